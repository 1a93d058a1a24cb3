// When a configuration fails the schema, keeps the parts that pass it, so the
// checks that look across entries (a token's workspace, its models, secrets)
// still run and one `check-config` lists every problem, not the first layer.
// Entries keep their index (arrays with holes), so problems name the right
// entry; references to entries that failed the schema are not reported again.
// Within a section or an entry, a field that fails and may be left out is
// dropped, so the rest of it is still checked: a token with a bad sha256 still
// has its workspace and models looked up. An entry whose required field fails
// is unknown as a whole.
import { z } from 'zod';
import { type ConfigFile, catalogModel, configSchema, token, workspace } from './schema.ts';

/** Ids that an entry failing the schema may have held: a reference to one is no extra problem. */
export interface UnknownIds {
  readonly workspaces: ReadonlySet<string> | 'all';
  readonly models: ReadonlySet<string> | 'all';
}

export const NO_UNKNOWN_IDS: UnknownIds = { workspaces: new Set(), models: new Set() };

export const isUnknown = (ids: ReadonlySet<string> | 'all', id: string): boolean =>
  ids === 'all' || ids.has(id);

export interface Salvaged {
  readonly file: ConfigFile;
  readonly unknown: UnknownIds;
}

const LISTS = ['catalog', 'workspaces', 'tokens'] as const;
type Section = Exclude<keyof ConfigFile, (typeof LISTS)[number]>;
const SECTIONS = (Object.keys(configSchema.shape) as Array<keyof ConfigFile>).filter(
  (name): name is Section => !(LISTS as readonly string[]).includes(name),
);

/** The parts of `raw` that pass the schema; undefined when `raw` is not even an object. */
export function salvageConfig(raw: unknown): Salvaged | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const source = raw as Record<string, unknown>;
  const sections = Object.fromEntries(
    SECTIONS.map((name) => {
      const schema = configSchema.shape[name];
      const parsed = schema.safeParse(source[name]);
      if (parsed.success) return [name, parsed.data];
      // What passes of the section, the defaults for the rest.
      return [name, salvageFields(schema, source[name]) ?? schema.parse(undefined)];
    }),
  ) as Pick<ConfigFile, Section>;

  const workspaces = salvageList(source, 'workspaces', workspace);
  const tokens = salvageList(source, 'tokens', token);
  const catalog = source.catalog === undefined ? undefined : salvageList(source, 'catalog', catalogModel);
  return {
    file: {
      ...sections,
      workspaces: workspaces.items,
      tokens: tokens.items,
      // The catalog is looked up by id, not by index: no holes needed.
      catalog: catalog?.items.filter(() => true),
    },
    unknown: { workspaces: workspaces.unknown, models: catalog?.unknown ?? new Set() },
  };
}

interface SalvagedList<T> {
  /** Entries that pass, at their own index. */
  readonly items: T[];
  readonly unknown: ReadonlySet<string> | 'all';
}

function salvageList<T>(
  source: Record<string, unknown>,
  name: string,
  schema: z.ZodType<T>,
): SalvagedList<T> {
  const value = source[name];
  if (value === undefined) {
    // Absent: the schema's default for the whole list.
    const section = configSchema.shape[name as 'workspaces' | 'tokens'];
    return { items: section.parse(undefined) as T[], unknown: new Set() };
  }
  if (!Array.isArray(value)) return { items: [], unknown: 'all' };
  const items: T[] = [];
  let unknown: Set<string> | 'all' = new Set();
  value.forEach((entry: unknown, i) => {
    const parsed = schema.safeParse(entry);
    if (parsed.success) {
      items[i] = parsed.data;
      return;
    }
    const partial = salvageFields(schema, entry);
    if (partial !== undefined) {
      items[i] = partial as T;
      return;
    }
    const id = idOf(entry);
    if (id === undefined) unknown = 'all';
    else if (unknown !== 'all') unknown.add(id);
  });
  return { items, unknown };
}

/**
 * The fields of `value` that pass the object schema `schema`; a failing field
 * that may be left out is left out (its default applies), the object's own
 * refinements are skipped. Undefined when a required field fails, or when
 * `schema` is no object schema.
 */
function salvageFields(outer: z.ZodType, value: unknown): unknown {
  // A section is an object schema behind its default.
  let schema: z.ZodType = outer;
  while (
    schema instanceof z.ZodPrefault ||
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodOptional
  ) {
    schema = schema.unwrap() as z.ZodType;
  }
  if (
    !(schema instanceof z.ZodObject) ||
    value === null ||
    typeof value !== 'object' ||
    Array.isArray(value)
  ) {
    return undefined;
  }
  const fields = value as Record<string, unknown>;
  const kept: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    if (!(key in fields)) continue;
    const passes = field.safeParse(fields[key]).success;
    if (passes || !field.safeParse(undefined).success) kept[key] = fields[key];
  }
  // A plain object of the same fields: no refinement, unknown keys dropped.
  const parsed = z.object(schema.shape).safeParse(kept);
  return parsed.success ? parsed.data : undefined;
}

function idOf(entry: unknown): string | undefined {
  if (entry === null || typeof entry !== 'object') return undefined;
  const id = (entry as { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
}
