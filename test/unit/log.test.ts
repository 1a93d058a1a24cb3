import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED_PATHS } from '../../processor/log.ts';

const SECRETS = {
  bearer: 'Bearer agw_secret_bearer_0001',
  apiKey: 'agw_secret_api_key_0002',
  token: 'agw_secret_token_0003',
  upstream: 'sk-ant-secret-upstream-0004',
  header: 'sk-ant-secret-in-headers-0005',
  cookie: 'session=secret-cookie-0006',
} as const;

/** A pino destination that keeps every line it is given. */
function sink(): { write(line: string): void; lines(): Array<Record<string, unknown>>; raw(): string } {
  const chunks: string[] = [];
  return {
    write(line: string): void {
      chunks.push(line);
    },
    raw: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('never writes a secret field, at any level or one level down', () => {
    const out = sink();
    const log = createLogger('trace', out);
    const secretFields = {
      authorization: SECRETS.bearer,
      'x-api-key': SECRETS.apiKey,
      token: SECRETS.token,
      upstreamApiKey: SECRETS.upstream,
      headers: { 'x-api-key': SECRETS.header, cookie: SECRETS.cookie },
    };
    log.trace(secretFields, 'trace line');
    log.debug(secretFields, 'debug line');
    log.info(secretFields, 'info line');
    log.warn({ request: secretFields }, 'warn line');
    log.error({
      workspace: { id: 'w', upstreamApiKey: SECRETS.upstream },
      grant: { id: 'g', token: SECRETS.token },
    });
    log.fatal(
      { req: { headers: [['authorization', SECRETS.bearer]] }, authorization: SECRETS.bearer },
      'fatal line',
    );
    log.child({ token: SECRETS.token, requestId: 'r1' }).info({ 'x-api-key': SECRETS.apiKey }, 'child line');

    const lines = out.lines();
    expect(lines.map((line) => line.level)).toEqual([10, 20, 30, 40, 50, 60, 30]);
    const raw = out.raw();
    for (const secret of Object.values(SECRETS)) expect(raw, secret).not.toContain(secret);
    expect(raw).not.toContain('agw_secret');
    expect(raw).not.toContain('sk-ant-secret');

    // The fields are still there, censored, so a reader sees something was withheld.
    const [first, , , warn, error, fatal, child] = lines;
    expect(first).toMatchObject({
      msg: 'trace line',
      authorization: '[redacted]',
      'x-api-key': '[redacted]',
      token: '[redacted]',
      upstreamApiKey: '[redacted]',
      headers: '[redacted]',
      service: 'anthropic-gateway-processor',
    });
    expect(warn?.request).toEqual({
      authorization: '[redacted]',
      'x-api-key': '[redacted]',
      token: '[redacted]',
      upstreamApiKey: '[redacted]',
      headers: '[redacted]',
    });
    expect(error).toMatchObject({
      workspace: { id: 'w', upstreamApiKey: '[redacted]' },
      grant: { id: 'g', token: '[redacted]' },
    });
    expect(fatal).toMatchObject({ req: { headers: '[redacted]' }, authorization: '[redacted]' });
    expect(child).toMatchObject({ token: '[redacted]', requestId: 'r1', 'x-api-key': '[redacted]' });
  });

  it('keeps ordinary fields', () => {
    const out = sink();
    createLogger('info', out).info({ tokenId: 'alice', model: 'claude-sonnet-4-6', status: 403 }, 'rejected');
    expect(out.lines()).toEqual([
      expect.objectContaining({ tokenId: 'alice', model: 'claude-sonnet-4-6', status: 403, msg: 'rejected' }),
    ]);
  });

  it('drops lines below the level, and everything when silent', () => {
    const out = sink();
    const log = createLogger('warn', out);
    log.info({ token: SECRETS.token }, 'hidden');
    log.warn('shown');
    expect(out.lines().map((line) => line.msg)).toEqual(['shown']);

    const quiet = sink();
    const silent = createLogger('silent', quiet);
    silent.fatal({ token: SECRETS.token }, 'nothing');
    expect(quiet.raw()).toBe('');
  });

  it('redacts the credential fields by name', () => {
    for (const path of ['authorization', 'x-api-key', 'token', 'upstreamApiKey', 'headers']) {
      expect(REDACTED_PATHS).toContain(path);
      expect(REDACTED_PATHS).toContain(`*.${path}`);
    }
  });
});
