// docs/troubleshooting.md quotes the gateway's messages as a user sees them:
// each quote is built here from the code that produces it, so a changed
// message fails this test until the page says the new one.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildConfig } from '../../processor/config/load.ts';
import { AddressInUseError, settingName } from '../../processor/listen/address-in-use.ts';
import { unknownModel } from '../../processor/policy/catalog.ts';
import { INVALID_CREDENTIAL, modelNotPermitted, renderErrorBody } from '../../processor/policy/errors.ts';
import { matchRoute } from '../../processor/policy/routes.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const page = read('docs/troubleshooting.md');
const BASE_URL = 'http://localhost:8080/ai-gateway/anthropic';

/** The gateway's answer to a request for `path`, as the processor decides it. */
function routeError(path: string) {
  const match = matchRoute('POST', path, () => BASE_URL);
  if (match.kind !== 'error') throw new Error(`${path}: not an error`);
  return match.error;
}

describe('docs/troubleshooting.md quotes the real messages', () => {
  it('a base URL without the prefix: the whole body cURL prints', () => {
    const error = routeError('/v1/messages');
    expect(error.status).toBe(404);
    expect(page).toContain(renderErrorBody(error).toString());
  });

  it('a base URL ending in /v1', () => {
    const error = routeError('/ai-gateway/anthropic/v1/v1/messages?beta=true');
    expect(error.status).toBe(404);
    expect(page).toContain(error.message);
    expect(page).toContain(`"reason":"${error.reason}"`);
  });

  it('an unknown model, as Claude Code shows it', () => {
    const error = unknownModel('claude-sonnet-9-9');
    expect(page).toContain(`API Error: ${error.status} ${error.message}`);
  });

  it('a model outside a token’s scope', () => {
    const message = modelNotPermitted('…').message;
    expect(page).toContain(message);
  });

  it('the 401, and the launcher’s line for a minted token', () => {
    expect(page).toContain(`API Error: 401 ${INVALID_CREDENTIAL.message}`);
    const line = 'token for this run (shown once; set GATEWAY_TOKEN to choose your own):';
    expect(read('scripts/gateway.ts')).toContain(`gateway: ${line}`);
    expect(page).toContain(`gateway: ${line}`);
  });

  it('a port in use, with the setting that moves it', () => {
    const error = new AddressInUseError('0.0.0.0:8080', settingName(['listen', 'port']));
    expect(read('scripts/gateway.ts')).toContain('gateway: failed to start: ${');
    expect(page).toContain(`gateway: failed to start: ${error.message}`);
  });

  it('the start-up line with the pids', () => {
    // scripts/gateway.ts writes it from these parts.
    const source = read('scripts/gateway.ts');
    expect(source).toMatch(/`kill -HUP \$\{processor\.pid\(\)\} reloads the processor's configuration; `/);
    expect(source).toMatch(/`Ctrl-C or kill \$\{process\.pid\} stops the gateway`/);
    expect(page).toContain(
      "gateway: kill -HUP 4242 reloads the processor's configuration; Ctrl-C or kill 4230 stops the gateway",
    );
    expect(read('processor/cli.ts')).toContain(
      'reload: several gateway processors are running; choose one with --pid:',
    );
    expect(page).toContain('reload: several gateway processors are running; choose one with --pid:');
  });

  it("Compose: the processor's problem when it cannot read the key, and the missing token", () => {
    const gateway = parse(read('deploy/gateway.yaml'));
    const result = buildConfig(gateway, { GATEWAY_TOKEN: 'x' });
    expect(result.ok).toBe(false);
    const problem = result.ok ? '' : (result.problems.find((p) => p.includes('cannot read')) ?? '');
    // Here the file is missing (ENOENT); under an old Compose it is there but root's alone.
    expect(problem).toMatch(/: cannot read \/run\/secrets\/anthropic_api_key: ENOENT$/);
    expect(page).toContain(
      `"problems":["${problem.replace(/ENOENT$/, 'EACCES')}"],"msg":"invalid configuration"`,
    );
    expect(read('processor/main.ts')).toContain("'invalid configuration'");
    const hint = /\$\{GATEWAY_TOKEN:\?([^}]+)\}/.exec(read('docker-compose.yml'))?.[1];
    expect(page).toContain(`required variable GATEWAY_TOKEN is missing a value: ${hint}`);
  });
});
