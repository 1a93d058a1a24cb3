import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CENSOR, censorFields, createLogger, SECRET_FIELDS } from '../../processor/log.ts';

const SECRETS = {
  bearer: 'agw_secret_bearer_0001',
  apiKey: 'agw_secret_api_key_0002',
  token: 'agw_secret_token_0003',
  upstream: 'sk-ant-secret-upstream-0004',
  header: 'sk-ant-secret-in-headers-0005',
  cookie: 'session=secret-cookie-0006',
  // An operator's own key or token need not have a recognisable shape.
  shapeless: '9f86d081884c7d659a2feaa0c55ad015',
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

function expectNoSecret(raw: string, secrets: readonly string[] = Object.values(SECRETS)): void {
  for (const secret of secrets) expect(raw, secret).not.toContain(secret);
  expect(raw).not.toMatch(/agw_secret|sk-ant-secret/);
}

describe('createLogger: secrets by field name', () => {
  it('never writes a secret field, at any level', () => {
    const out = sink();
    const log = createLogger('trace', out);
    const secretFields = {
      authorization: `Bearer ${SECRETS.bearer}`,
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
      'fatal',
    );
    log.child({ token: SECRETS.token, requestId: 'r1' }).info({ 'x-api-key': SECRETS.apiKey }, 'child line');

    const lines = out.lines();
    expect(lines.map((line) => line.level)).toEqual([10, 20, 30, 40, 50, 60, 30]);
    expectNoSecret(out.raw());
    // The fields are still there, censored, so a reader sees something was withheld.
    const [first, , , warn, error, fatal, child] = lines;
    expect(first).toMatchObject({
      msg: 'trace line',
      authorization: CENSOR,
      'x-api-key': CENSOR,
      token: CENSOR,
      upstreamApiKey: CENSOR,
      headers: CENSOR,
      service: 'anthropic-gateway-processor',
    });
    expect(warn?.request).toEqual({
      authorization: CENSOR,
      'x-api-key': CENSOR,
      token: CENSOR,
      upstreamApiKey: CENSOR,
      headers: CENSOR,
    });
    expect(error).toMatchObject({
      workspace: { id: 'w', upstreamApiKey: CENSOR },
      grant: { id: 'g', token: CENSOR },
    });
    expect(fatal).toMatchObject({ req: { headers: CENSOR }, authorization: CENSOR });
    expect(child).toMatchObject({ token: CENSOR, requestId: 'r1', 'x-api-key': CENSOR });
  });

  it('censors secret fields however deep they sit, in any case, inside arrays and child bindings', () => {
    const out = sink();
    const log = createLogger('trace', out);
    const deep = {
      a: { b: { c: { d: { e: { Authorization: SECRETS.shapeless, 'X-Api-Key': SECRETS.apiKey } } } } },
    };
    log.debug({ deep, list: [{ nested: [{ TOKEN: SECRETS.token }] }] }, 'deep');
    log
      .child({ ctx: { grant: { upstream_api_key: SECRETS.upstream } } })
      .child({ more: { Cookie: SECRETS.cookie } })
      .warn('bound');
    expectNoSecret(out.raw());
    const [first, second] = out.lines();
    expect(first).toMatchObject({
      deep: { a: { b: { c: { d: { e: { Authorization: CENSOR, 'X-Api-Key': CENSOR } } } } } },
      list: [{ nested: [{ TOKEN: CENSOR }] }],
    });
    expect(second).toMatchObject({ ctx: { grant: { upstream_api_key: CENSOR } }, more: { Cookie: CENSOR } });
  });

  it('censors every name of the list', () => {
    for (const name of ['authorization', 'x-api-key', 'token', 'upstreamapikey', 'cookie', 'headers']) {
      expect(SECRET_FIELDS.has(name)).toBe(true);
    }
    const out = sink();
    const log = createLogger('info', out);
    log.info(
      { wrapped: Object.fromEntries([...SECRET_FIELDS].map((name) => [name, SECRETS.shapeless])) },
      'all',
    );
    expectNoSecret(out.raw());
  });

  it('survives circular and very deep objects without throwing', () => {
    const out = sink();
    const log = createLogger('info', out);
    const circular: Record<string, unknown> = { id: 'x' };
    circular.self = circular;
    let deep: Record<string, unknown> = { token: SECRETS.shapeless };
    for (let i = 0; i < 50; i += 1) deep = { next: deep };
    log.info({ circular, deep }, 'odd shapes');
    expectNoSecret(out.raw());
    const [line] = out.lines();
    expect(line).toMatchObject({ circular: { id: 'x', self: '[Circular]' } });
    expect(JSON.stringify(line)).toContain('[too deep]');
  });
});

describe('createLogger: secrets by value, on the finished line', () => {
  it('censors credentials inside messages, errors, their stacks and causes, and interpolated values', () => {
    const out = sink();
    const log = createLogger('trace', out, { secrets: [SECRETS.shapeless] });
    const cause = new Error(`upstream said no to key ${SECRETS.upstream}`);
    const error = Object.assign(new Error(`bad header Authorization: Bearer ${SECRETS.bearer}`, { cause }), {
      headers: { 'x-api-key': SECRETS.apiKey },
      detail: `Basic ${Buffer.from(`u:${SECRETS.token}`).toString('base64')}`,
      key: SECRETS.shapeless,
    });
    log.error({ err: error, requestId: 'r2' }, 'policy failed; answering 500');
    log.error(error);
    log.debug('token %s presented, key %s', SECRETS.token, SECRETS.shapeless);
    log.info(`a message naming ${SECRETS.upstream} and bearer ${SECRETS.bearer}`);
    log.warn({ note: `x-api-key=${SECRETS.apiKey}; ${SECRETS.shapeless}` }, 'note');

    expectNoSecret(out.raw());
    expect(out.raw()).not.toContain(Buffer.from(`u:${SECRETS.token}`).toString('base64'));
    const [first, second, third] = out.lines();
    // The error is still useful: its type, a censored message, and the request it belongs to.
    expect(first).toMatchObject({ requestId: 'r2', err: { type: 'Error', headers: CENSOR } });
    const err = (first?.err ?? {}) as { message?: string; stack?: string; key?: string };
    expect(err.message?.startsWith(`bad header Authorization: ${CENSOR}`)).toBe(true);
    expect(err.stack).toContain('log.test.ts');
    expect(err.key).toBe(CENSOR);
    expect(JSON.stringify(first?.err)).toContain('upstream said no to key');
    expect(second?.msg).toBe(`bad header Authorization: ${CENSOR}`);
    expect(third?.msg).toBe(`token ${CENSOR} presented, key ${CENSOR}`);
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
});

describe('createLogger: property', () => {
  const secretArb = fc.oneof(
    fc.stringMatching(/^agw_[A-Za-z0-9_-]{20,43}$/),
    fc.stringMatching(/^sk-ant-[A-Za-z0-9_-]{20,40}$/),
  );
  const keyArb = fc.oneof(
    fc.constantFrom(...SECRET_FIELDS, 'Authorization', 'X-API-KEY'),
    fc.string({ maxLength: 8 }),
  );
  const treeArb = (secret: string) =>
    fc.letrec<{ tree: unknown }>((tie) => ({
      tree: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constant(secret),
        fc.constant(`Bearer ${secret}`),
        fc.string({ maxLength: 6 }),
        fc.integer(),
        fc.array(tie('tree'), { maxLength: 3 }),
        fc.dictionary(keyArb, tie('tree'), { maxKeys: 3 }),
      ),
    })).tree;

  it('never writes a credential-shaped secret, wherever it is put in a logged object', () => {
    fc.assert(
      fc.property(
        secretArb.chain((secret) => fc.tuple(fc.constant(secret), treeArb(secret))),
        fc.constantFrom('trace', 'debug', 'info', 'warn', 'error', 'fatal') as fc.Arbitrary<
          'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'
        >,
        ([secret, tree], level) => {
          const out = sink();
          const log = createLogger('trace', out);
          log[level]({ data: tree, err: new Error(`failed with ${secret}`) }, `msg ${secret}`);
          log.child({ bound: tree })[level]('child');
          expect(out.raw()).not.toContain(secret);
          expect(out.lines()).toHaveLength(2);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('censorFields returns a copy and leaves the logged object untouched', () => {
    const original = { headers: { authorization: 'x' }, id: 1 };
    const copy = censorFields(original);
    expect(copy).toEqual({ headers: CENSOR, id: 1 });
    expect(original).toEqual({ headers: { authorization: 'x' }, id: 1 });
  });
});
