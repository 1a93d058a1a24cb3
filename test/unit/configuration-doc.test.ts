import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../processor/config/schema.ts';
import { CONFIGURATION_DOC, renderConfigurationReference } from '../../scripts/config-reference.ts';

describe('docs/configuration.md', () => {
  const doc = readFileSync(CONFIGURATION_DOC, 'utf8');

  it('is what `npm run gen:config-doc` renders from the schema (run it if this fails)', () => {
    expect(doc).toBe(renderConfigurationReference());
  });

  it('documents every section and field of the schema, with a description', () => {
    for (const [name, section] of Object.entries(configSchema.shape)) {
      expect(doc).toContain(`## \`${name}\``);
      expect(section.description ?? '').not.toBe('');
    }
    const row = (...cells: string[]) =>
      new RegExp(
        `^\\| ${cells.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join(' +\\| ')} +\\|`,
        'm',
      );
    expect(doc).toMatch(row('`shutdown_timeout_seconds`', 'number (> 0)', '`20`'));
    expect(doc).toMatch(row('`port`', 'integer (0–65535)', '`8080`', 'port Envoy listens on for clients'));
    expect(doc).toMatch(row('`GATEWAY_PORT`', '`listen.port`'));
    expect(doc).toContain('Live, on reload: `log`, `catalog`, `workspaces`, `tokens`.');
    expect(doc).toContain('At the next restart only: `listen`, `admin`, `processor`, `upstream`, `limits`');
    expect(doc).not.toMatch(/\| \|\s*$/m);
  });
});
