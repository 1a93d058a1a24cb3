// When a configuration fails the schema, keeps the parts that pass it, so the
// checks that look across entries (a token's workspace, its models, secrets)
// still run and one `check-config` lists every problem, not the first layer.
// Entries keep their index (arrays with holes), so problems name the right
// entry; references to entries that failed the schema are not reported again.
import type { z } from 'zod';
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
      return [name, parsed.success ? parsed.data : schema.parse(undefined)];
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
    const id = idOf(entry);
    if (id === undefined) unknown = 'all';
    else if (unknown !== 'all') unknown.add(id);
  });
  return { items, unknown };
}

function idOf(entry: unknown): string | undefined {
  if (entry === null || typeof entry !== 'object') return undefined;
  const id = (entry as { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
}
