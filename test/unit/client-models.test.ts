// The built-in catalog serves every Claude model the pinned clients know:
// what the TypeScript SDK's Model type names and what Claude Code defaults to
// or offers in its picker, read from the installed packages (see
// test/support/client-models.ts). Bumping either client to a version that
// knows a model the catalog lacks fails here, naming the model, so that a new
// user's `claude -p` never meets "unknown model".
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG } from '../../processor/config/default-catalog.ts';
import { ANTHROPIC } from '../../processor/policy/catalog.ts';
import { claudeCodeModels, sdkModels } from '../support/client-models.ts';

const served = new Set(DEFAULT_CATALOG.filter((m) => m.provider === ANTHROPIC).map((m) => m.id));
const pinned = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    devDependencies: Record<string, string>;
  }
).devDependencies;

const missing = (models: Iterable<string>) => [...models].filter((id) => !served.has(id));

describe('the TypeScript SDK’s models', () => {
  const sdk = sdkModels();

  it('are read from the pinned version', () => {
    expect(sdk.version).toBe(pinned['@anthropic-ai/sdk']);
    expect(sdk.models.length).toBeGreaterThan(0);
  });

  it('are all served by the built-in catalog, but those past the end of life the SDK announces', () => {
    // A retired model is refused by Anthropic itself: the catalog leaves it out.
    const now = Date.now();
    const live = sdk.models.filter((id) => (sdk.endOfLife.get(id)?.getTime() ?? Infinity) > now);
    expect(missing(live)).toEqual([]);
  });
});

describe('Claude Code’s models', () => {
  const claudeCode = claudeCodeModels();

  it('are read from the pinned version', () => {
    expect(claudeCode.version).toBe(pinned['@anthropic-ai/claude-code']);
    expect(claudeCode.families).toEqual(expect.arrayContaining(['haiku', 'opus', 'sonnet']));
  });

  it('include every model it defaults to, and the catalog serves them', () => {
    expect(claudeCode.defaults.length).toBeGreaterThan(0);
    expect(missing(claudeCode.defaults)).toEqual([]);
  });

  it('include every model its /model picker offers, and the catalog serves them', () => {
    expect(claudeCode.picker.length).toBeGreaterThan(0);
    expect(missing(claudeCode.picker)).toEqual([]);
  });
});
