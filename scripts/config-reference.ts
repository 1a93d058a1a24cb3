// Renders docs/configuration.md from the configuration schema
// (processor/config/schema.ts, through zod's JSON Schema), the environment
// overrides (processor/config/load.ts) and what reloads live
// (processor/config/live.ts). `npm run gen:config-doc` writes the file;
// test/unit/configuration-doc.test.ts fails when it is out of date.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { RESTART_ONLY_SECTIONS } from '../processor/config/live.ts';
import { OVERRIDES } from '../processor/config/load.ts';
import { configSchema } from '../processor/config/schema.ts';

interface Schema {
  type?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  minLength?: number;
}

export const CONFIGURATION_DOC = join(dirname(fileURLToPath(import.meta.url)), '../docs/configuration.md');

const RESTART_ONLY: ReadonlySet<string> = new Set(RESTART_ONLY_SECTIONS);
const code = (value: unknown) => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function typeOf(schema: Schema): string {
  if (schema.anyOf !== undefined) return schema.anyOf.map(typeOf).join(' or ');
  if (schema.enum !== undefined) return `one of ${schema.enum.map(code).join(', ')}`;
  if (schema.type === 'object') {
    const fields = Object.entries(schema.properties ?? {}).map(
      ([name, field]) => `${name}: ${typeOf(field)}`,
    );
    return `{ ${fields.join(', ')} }`;
  }
  if (schema.type === 'array') {
    const items = schema.items === undefined ? 'values' : typeOf(schema.items);
    return `list of ${items}${schema.minItems ? ` (at least ${schema.minItems})` : ''}`;
  }
  let type = schema.type ?? 'any';
  if (schema.format === 'uri') type = 'URL';
  else if (schema.format === 'date-time') type = 'date-time';
  else if (schema.pattern !== undefined && schema.type === 'string') type = 'string';
  const bounds: string[] = [];
  if (schema.exclusiveMinimum !== undefined) bounds.push(`> ${schema.exclusiveMinimum}`);
  if (schema.minimum !== undefined && schema.maximum !== undefined && schema.maximum < 2 ** 53 - 1) {
    bounds.push(`${schema.minimum}–${schema.maximum}`);
  }
  return bounds.length > 0 ? `${type} (${bounds.join(', ')})` : type;
}

function fieldTable(object: Schema, withDefaults: boolean): string[] {
  const required = new Set(object.required ?? []);
  const rows = Object.entries(object.properties ?? {}).map(([name, field]) => {
    let third = required.has(name) ? 'yes' : 'no';
    if (withDefaults) third = field.default === undefined ? '' : code(field.default);
    return [`\`${name}\``, typeOf(field), third, field.description ?? ''];
  });
  return table(['Field', 'Type', withDefaults ? 'Default' : 'Required', 'Meaning'], rows);
}

/** A Markdown table with its columns padded, as the formatter (Biome) writes them. */
function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const cells = [header, ...rows].map((row) => row.map(cell));
  const widths = header.map((_, i) => Math.max(3, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]) =>
    `| ${row.map((text, i) => text.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const [head = [], ...body] = cells;
  return [line(head), line(widths.map((width) => '-'.repeat(width))), ...body.map(line)];
}

function section(name: string, schema: Schema): string[] {
  const when = RESTART_ONLY.has(name) ? 'at the next restart' : 'live, on reload';
  const lines = [`## \`${name}\``, '', `${capitalise(schema.description ?? '')}. Takes effect ${when}.`, ''];
  if (schema.type === 'object') {
    lines.push(...fieldTable(schema, true));
  } else {
    const entries = schema.items ?? {};
    lines.push(
      schema.default === undefined
        ? 'A list; absent by default (the built-in one applies).'
        : `A list. Default: ${code(schema.default)}.`,
      '',
      'Each entry:',
      '',
      ...fieldTable(entries, false),
    );
  }
  return [...lines, ''];
}

const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

export function renderConfigurationReference(): string {
  const root = z.toJSONSchema(configSchema, { io: 'input' }) as Schema;
  const sections = Object.entries(root.properties ?? {});
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from processor/config/schema.ts by `npm run gen:config-doc`: do not edit by hand.',
    '     test/unit/configuration-doc.test.ts fails when this file is out of date. -->',
    '',
    'One YAML or JSON file, named by `GATEWAY_CONFIG`, configures the gateway: the Envoy',
    'bootstrap that `npm start` renders (`listen`, `admin`, `upstream`, `limits`, part of',
    '`processor`) and the processor (`workspaces`, `tokens`, `catalog`, `log`, the rest of',
    '`processor`). Every field is optional; with no file at all the gateway runs on the',
    'defaults below. Unknown fields are errors. `npm run cli -- check-config FILE` lists',
    'every problem of a file; `docs/gateway.example.yaml` shows every section.',
    '',
    '## Environment variables',
    '',
    'These override single settings of the file (handy in containers and tests):',
    '',
    ...table(
      ['Variable', 'Sets'],
      OVERRIDES.map(([variable, [sectionName, field]]) => [`\`${variable}\``, `\`${sectionName}.${field}\``]),
    ),
    '',
    'Secrets are never written in the file: a workspace key and a token may name an',
    'environment variable (`env`) or a file (`file`, for a workspace key) that holds them.',
    '',
    '## Changing the configuration while the gateway runs',
    '',
    'The processor reloads its file when the file changes (it watches the folder, so an',
    'editor that replaces the file, or a Kubernetes ConfigMap update, is seen) and on',
    '`SIGHUP`, which also re-reads secret files (to rotate a key, replace its file, then',
    'send `SIGHUP`). A file with problems is refused: every problem is logged and the',
    'configuration already running keeps serving. A request is decided entirely with the',
    'configuration that was current when it arrived.',
    '',
    '`npm run cli -- reload` is the one command to reload a running gateway: it finds the',
    'processor by the pid file it keeps (in `GATEWAY_RUN_DIR`, by default a folder private to',
    "the user in the system's temporary directory), sends it `SIGHUP`, and prints whether it",
    'applied the file or refused it, with every problem (exit 0 or 1). With several processors',
    'on one machine it names them and wants `--pid PID`. In a container, `docker compose kill',
    '-s SIGHUP processor` (or `kill -HUP` on the processor) does the same, without the report.',
    '',
    `Live, on reload: ${sections
      .filter(([name]) => !RESTART_ONLY.has(name))
      .map(([name]) => `\`${name}\``)
      .join(', ')}. At the next restart only: ${sections
      .filter(([name]) => RESTART_ONLY.has(name))
      .map(([name]) => `\`${name}\``)
      .join(', ')} (Envoy, the`,
    "processor's servers or its quota store were built from them); a reload that changes",
    'them logs a warning and keeps the running values. Quota limits, set per token and',
    'workspace, change live.',
    '',
    ...sections.flatMap(([name, schema]) => section(name, schema)),
  ]
    .join('\n')
    .replace(/\n+$/, '\n');
}
