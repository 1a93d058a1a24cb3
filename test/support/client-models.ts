// The Claude models the pinned clients know, read from the installed packages
// themselves, so that a version bump that brings a new model shows up as a
// failing test (test/unit/client-models.test.ts) rather than as a new user's
// "unknown model":
// - the TypeScript SDK: the `Model` type of messages.create (its .d.ts), and
//   the end-of-life dates it warns about (internal/data/deprecated-models.js);
// - Claude Code, a native binary that embeds its JavaScript: the model catalog
//   baked into it (the object commented "Hand-maintained baked-in model
//   catalog"): the model each alias defaults to, directly and behind a
//   gateway, and the newest of each family; and the models its /model picker
//   offers by id (rows like `value:…?…:"claude-opus-4-8"`).
// Each reader throws when it cannot find what it looks for: a client that
// changed its layout must be looked at again, not pass silently.
import { closeSync, openSync, readFileSync, readSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const SDK_DIR = join(ROOT, 'node_modules/@anthropic-ai/sdk');
const CLAUDE_CODE_DIR = join(ROOT, 'node_modules/@anthropic-ai/claude-code');

const packageVersion = (dir: string): string =>
  (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;

export interface SdkModels {
  readonly version: string;
  /** The literal ids of the SDK's `Model` type, in its order. */
  readonly models: readonly string[];
  /** Model id → the end-of-life date the SDK warns about (deprecated models only). */
  readonly endOfLife: ReadonlyMap<string, Date>;
}

export function sdkModels(): SdkModels {
  const declarations = readFileSync(join(SDK_DIR, 'resources/messages/messages.d.ts'), 'utf8');
  const union = /^export type Model = ([^;]+);$/m.exec(declarations)?.[1];
  if (union === undefined) throw new Error('no `export type Model = …;` in the SDK’s messages.d.ts');
  const models = [...union.matchAll(/'([^']+)'/g)].map((match) => match[1] as string);
  if (models.length === 0) throw new Error('the SDK’s Model type names no model');

  const deprecated = readFileSync(join(SDK_DIR, 'internal/data/deprecated-models.js'), 'utf8');
  const table = /DEPRECATED_MODELS = \{([^}]*)\}/.exec(deprecated)?.[1];
  if (table === undefined) throw new Error('no DEPRECATED_MODELS table in the SDK');
  const endOfLife = new Map<string, Date>();
  for (const [, id, when] of table.matchAll(/'([^']+)':\s*'([^']+)'/g)) {
    // "June 30th, 2026": drop the ordinal suffix for Date.parse.
    const date = new Date(Date.parse(`${(when as string).replace(/(\d)(st|nd|rd|th)\b/, '$1')} UTC`));
    if (Number.isNaN(date.getTime())) throw new Error(`unreadable end-of-life date for ${id}: ${when}`);
    endOfLife.set(id as string, date);
  }
  return { version: packageVersion(SDK_DIR), models, endOfLife };
}

export interface ClaudeCodeModels {
  readonly version: string;
  /** What its aliases (opus, sonnet, haiku, …) resolve to by default and behind a gateway, and the newest of each family. */
  readonly defaults: readonly string[];
  /** The models its /model picker offers by id. */
  readonly picker: readonly string[];
  /** The model families of its catalog (opus, sonnet, …). */
  readonly families: readonly string[];
}

const CATALOG_MARK = 'Hand-maintained baked-in model catalog';
const CHUNK = 16 * 1024 * 1024;
// Longer than the catalog object (about 22 KB) and than a picker row.
const OVERLAP = 256 * 1024;

/** Reads the binary in chunks (it is some 400 MB), keeping what the patterns find. */
function scanBinary(path: string, scan: (text: string) => void): void {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(CHUNK + OVERLAP);
    let carried = 0;
    let position = 0;
    for (;;) {
      const read = readSync(fd, buffer, carried, CHUNK, position);
      if (read === 0) break;
      position += read;
      const length = carried + read;
      // latin1 maps every byte to one character: offsets and ASCII survive.
      scan(buffer.toString('latin1', 0, length));
      carried = Math.min(OVERLAP, length);
      buffer.copy(buffer, 0, length - carried, length);
    }
  } finally {
    closeSync(fd);
  }
}

/** The `{…}` that starts at `start` in `text` (braces balanced, strings skipped). */
function balancedObject(text: string, start: number): string | undefined {
  let depth = 0;
  let quote: string | undefined;
  for (let i = start; i < text.length; i += 1) {
    const c = text[i];
    if (quote !== undefined) {
      if (c === '\\') i += 1;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '{') depth += 1;
    else if (c === '}') {
      depth -= 1;
      if (depth === 0) return text.slice(start, i + 1);
    }
  }
  return undefined;
}

const ids = (text: string, pattern: RegExp): string[] =>
  [...text.matchAll(pattern)].map((m) => m[1] as string);

export function claudeCodeModels(): ClaudeCodeModels {
  const binary = realpathSync(join(ROOT, 'node_modules/.bin/claude'));
  const catalogs = new Set<string>();
  const pickerValues = new Set<string>();
  scanBinary(binary, (text) => {
    for (let at = text.indexOf(CATALOG_MARK); at !== -1; at = text.indexOf(CATALOG_MARK, at + 1)) {
      const start = text.lastIndexOf('{', at);
      const object = start === -1 ? undefined : balancedObject(text, start);
      if (object?.includes('latest_per_family:')) catalogs.add(object);
    }
    for (const id of ids(text, /value:[^,{}]{0,80}?"(claude-[a-z0-9-]+)(?:\[1m\])?"/g)) pickerValues.add(id);
  });
  if (catalogs.size === 0) throw new Error(`no baked-in model catalog found in ${binary}`);

  const defaults = new Set<string>();
  const families = new Set<string>();
  for (const catalog of catalogs) {
    for (const family of ids(catalog, /family:"([a-z0-9]+)"/g)) families.add(family);
    const aliasesAt = catalog.indexOf('aliases:{');
    const aliases = aliasesAt === -1 ? undefined : balancedObject(catalog, aliasesAt + 'aliases:'.length);
    const latestAt = catalog.indexOf('latest_per_family:{');
    const latest =
      latestAt === -1 ? undefined : balancedObject(catalog, latestAt + 'latest_per_family:'.length);
    if (aliases === undefined || latest === undefined) {
      throw new Error('Claude Code’s model catalog has no aliases or latest_per_family');
    }
    // The first-party default and the gateway provider's; the other providers'
    // (Bedrock, Vertex, …) name catalog keys of their own platforms.
    for (const id of ids(aliases, /\b(?:default|gateway):"(claude-[a-z0-9-]+)"/g)) defaults.add(id);
    for (const id of ids(latest, /"(claude-[a-z0-9-]+)"/g)) defaults.add(id);
  }
  if (defaults.size === 0) throw new Error('Claude Code’s model catalog names no default model');
  // Picker rows name models; other `value:"claude-…"` strings (settings) do not.
  const family = new RegExp(`^claude-(?:${[...families].join('|')})-`);
  const picker = [...pickerValues].filter((id) => family.test(id));
  if (picker.length === 0) throw new Error('found no model of Claude Code’s /model picker');
  return {
    version: packageVersion(CLAUDE_CODE_DIR),
    defaults: [...defaults].sort(),
    picker: picker.sort(),
    families: [...families].sort(),
  };
}
