// deploy/anthropic-gateway.service read as systemd reads it, for the tests:
// sections of `Key=value` lines (a key may repeat), comments dropped, and a
// copy with the paths of the install moved elsewhere (this checkout, a scratch
// folder), so that systemd-analyze finds its binaries and the e2e test can run
// its commands. Only the syntax the unit uses is understood: a value with
// quotes or a line continuation is refused rather than guessed at.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const UNIT_PATH = join(ROOT, 'deploy/anthropic-gateway.service');

/** The paths the unit names, as they are on a production host. */
export const INSTALL_DIR = '/opt/anthropic-gateway';
export const CONFIG_DIR = '/etc/anthropic-gateway';
export const RUN_DIR = '/run/anthropic-gateway';

export type Unit = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;

export function parseUnit(text: string): Unit {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[([A-Za-z]+)\]$/.exec(line);
    if (section !== null) {
      current = new Map();
      sections.set(section[1] as string, current);
      continue;
    }
    const entry = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (entry === null || current === undefined) throw new Error(`line ${index + 1}: not Key=value: ${raw}`);
    const [, key = '', value = ''] = entry;
    if (/["'\\]/.test(value))
      throw new Error(`line ${index + 1}: quotes and escapes are not read here: ${raw}`);
    current.set(key, [...(current.get(key) ?? []), value]);
  }
  return sections;
}

export const readUnit = (): string => readFileSync(UNIT_PATH, 'utf8');

/** Every value of `key` in `section`. */
export function values(unit: Unit, section: string, key: string): readonly string[] {
  return unit.get(section)?.get(key) ?? [];
}

/** The one value of `key` in `section`; throws when there is none or several. */
export function value(unit: Unit, section: string, key: string): string {
  const all = values(unit, section, key);
  if (all.length !== 1) throw new Error(`[${section}] ${key}: ${all.length} values`);
  return all[0] as string;
}

/** The unit's `Environment=` assignments (one NAME=value each, as the unit writes them). */
export function environment(unit: Unit): Record<string, string> {
  const env: Record<string, string> = {};
  for (const assignment of values(unit, 'Service', 'Environment')) {
    const at = assignment.indexOf('=');
    if (at <= 0 || assignment.slice(at + 1).includes(' ')) throw new Error(`Environment=${assignment}`);
    env[assignment.slice(0, at)] = assignment.slice(at + 1);
  }
  return env;
}

/** The unit's text with its host paths replaced, for a copy that runs elsewhere. */
export function relocate(
  text: string,
  to: { readonly install: string; readonly config?: string; readonly run?: string },
): string {
  let out = text.replaceAll(INSTALL_DIR, to.install);
  if (to.config !== undefined) out = out.replaceAll(CONFIG_DIR, to.config);
  if (to.run !== undefined) out = out.replaceAll(RUN_DIR, to.run);
  return out;
}

/** A memory size as systemd writes it (`1280M`, `1G`), in bytes. */
export function bytes(size: string): number {
  const match = /^(\d+)([KMGT]?)$/.exec(size);
  if (match === null) throw new Error(`not a size: ${size}`);
  const power = ['', 'K', 'M', 'G', 'T'].indexOf(match[2] as string);
  return Number(match[1]) * 1024 ** power;
}

/** A time span as the unit writes it (`30s`, `5s`), in seconds. */
export function seconds(span: string): number {
  const match = /^(\d+)s$/.exec(span);
  if (match === null) throw new Error(`not a span in seconds: ${span}`);
  return Number(match[1]);
}
