import { describe, expect, it } from 'vitest';
import { indexCatalog, UNKNOWN_LONG_MODEL } from '../../processor/policy/catalog.ts';
import type { HeaderList } from '../../processor/policy/headers.ts';
import {
  decideOnBody,
  decideOnHeaders,
  type ForwardDecision,
  type HeadersDecision,
  type Policy,
  type Workspace,
} from '../../processor/policy/request-policy.ts';
import { hashToken, indexTokens } from '../../processor/policy/tokens.ts';

const ALICE = 'agw_alice_token';
const SCOPED = 'agw_scoped_token';
const ORPHAN = 'agw_orphan_token';
const KEYLESS = 'agw_keyless_token';
const MESSAGES = '/ai-gateway/anthropic/v1/messages';
const LIMITS = { maxRequestBodyBytes: 32 * 1024 * 1024 };

const workspaces = new Map<string, Workspace>([
  ['team-a', { id: 'team-a', upstreamApiKey: 'sk-ant-team-a' }],
  ['team-b', { id: 'team-b', upstreamApiKey: 'sk-ant-team-b' }],
  ['keyless', { id: 'keyless', upstreamApiKey: undefined }],
]);

const policy: Policy = {
  catalog: indexCatalog([
    { id: 'claude-sonnet-4-6', provider: 'anthropic', display_name: 'Claude Sonnet 4.6' },
    { id: 'claude-haiku-4-5', provider: 'anthropic', display_name: 'Claude Haiku 4.5' },
    { id: 'gpt-5', provider: 'openai', display_name: 'GPT-5' },
  ]),
  tokens: indexTokens([
    { id: 'alice', workspace: 'team-a', models: undefined, sha256: hashToken(ALICE) },
    { id: 'scoped', workspace: 'team-b', models: new Set(['claude-haiku-4-5']), sha256: hashToken(SCOPED) },
    { id: 'orphan', workspace: 'gone', models: undefined, sha256: hashToken(ORPHAN) },
    { id: 'keyless', workspace: 'keyless', models: undefined, sha256: hashToken(KEYLESS) },
  ]),
  workspaces,
};

function request(
  options: { method?: string; path?: string; token?: string | undefined; bearer?: string } = {},
  ...extra: Array<readonly [string, string]>
): HeaderList {
  const headers: Array<readonly [string, string]> = [
    [':method', options.method ?? 'POST'],
    [':path', options.path ?? MESSAGES],
    [':authority', 'gateway.example'],
    [':scheme', 'https'],
    ['content-type', 'application/json'],
    ['anthropic-version', '2023-06-01'],
  ];
  const token = 'token' in options ? options.token : ALICE;
  if (token !== undefined) headers.push(['x-api-key', token]);
  if (options.bearer !== undefined) headers.push(['authorization', `Bearer ${options.bearer}`]);
  return [...headers, ...extra];
}

function forwarded(decision: HeadersDecision): ForwardDecision {
  if (decision.action !== 'forward') {
    throw new Error(
      `expected forward, got ${decision.action === 'reject' ? decision.error.reason : decision.reply.reason}`,
    );
  }
  return decision;
}

const statusOf = (decision: HeadersDecision): number => {
  if (decision.action === 'reject') return decision.error.status;
  return decision.action === 'respond' ? decision.reply.status : 200;
};

describe('decideOnHeaders', () => {
  it('checks the route before the credential', () => {
    const unknown = decideOnHeaders(
      policy,
      request({ path: '/v1/messages', token: undefined }),
      false,
      LIMITS,
    );
    expect(statusOf(unknown)).toBe(404);
    const wrongMethod = decideOnHeaders(policy, request({ method: 'GET', token: 'bad' }), true, LIMITS);
    expect(statusOf(wrongMethod)).toBe(405);
    expect(wrongMethod.action === 'reject' ? wrongMethod.error.headers : undefined).toEqual({
      allow: 'POST',
    });
  });

  it('answers 401 without a token, with a wrong token, or with conflicting tokens', () => {
    for (const headers of [
      request({ token: undefined }),
      request({ token: 'agw_wrong' }),
      request({ token: ALICE, bearer: SCOPED }),
      request({ token: undefined }, ['authorization', `Basic ${ALICE}`]),
    ]) {
      const decision = decideOnHeaders(policy, headers, false, LIMITS);
      expect(decision.action).toBe('reject');
      if (decision.action === 'reject') {
        expect(decision.error.status).toBe(401);
        expect(decision.error.type).toBe('authentication_error');
      }
    }
  });

  it('checks the credential before the content encoding', () => {
    const decision = decideOnHeaders(
      policy,
      request({ token: undefined }, ['content-encoding', 'gzip']),
      false,
      LIMITS,
    );
    expect(statusOf(decision)).toBe(401);
  });

  it('answers 415 for a compressed body', () => {
    for (const encoding of ['gzip', 'br', 'deflate', 'zstd', 'gzip, identity', 'GZIP']) {
      const decision = decideOnHeaders(policy, request({}, ['content-encoding', encoding]), false, LIMITS);
      expect(decision.action, encoding).toBe('reject');
      if (decision.action === 'reject') {
        expect(decision.error.status).toBe(415);
        expect(decision.error.type).toBe('invalid_request_error');
        expect(decision.error.message).toContain(JSON.stringify(encoding));
      }
    }
  });

  it('accepts content-encoding identity', () => {
    expect(decideOnHeaders(policy, request({}, ['content-encoding', 'identity']), false, LIMITS).action).toBe(
      'forward',
    );
    expect(
      decideOnHeaders(policy, request({}, ['content-encoding', ' Identity ']), false, LIMITS).action,
    ).toBe('forward');
  });

  it('answers 400 for a request with no body (end of stream with the headers)', () => {
    const decision = decideOnHeaders(policy, request(), true, LIMITS);
    expect(decision.action).toBe('reject');
    if (decision.action === 'reject') {
      expect(decision.error.status).toBe(400);
      expect(decision.error.type).toBe('invalid_request_error');
      expect(decision.error.message).toContain('request body is empty');
    }
  });

  it('answers 413 at once for a declared content-length over the limit, after checking the credential', () => {
    const over = ['content-length', String(LIMITS.maxRequestBodyBytes + 1)] as const;
    const decision = decideOnHeaders(policy, request({}, over), false, LIMITS);
    expect(decision.action === 'reject' ? decision.error : undefined).toMatchObject({
      status: 413,
      type: 'request_too_large',
      message: "request body is larger than the gateway's limit of 32 MiB",
    });
    expect(statusOf(decideOnHeaders(policy, request({ token: undefined }, over), false, LIMITS))).toBe(401);
    // The limit is the one given, not a built-in one.
    const small = { maxRequestBodyBytes: 1024 * 1024 };
    expect(statusOf(decideOnHeaders(policy, request({}, ['content-length', '1048577']), false, small))).toBe(
      413,
    );
    expect(
      forwarded(decideOnHeaders(policy, request({}, ['content-length', '1048576']), false, small)).route,
    ).toBe('messages');
  });

  it('answers 500 when a token names a workspace that does not exist', () => {
    const decision = decideOnHeaders(policy, request({ token: ORPHAN }), false, LIMITS);
    expect(decision.action === 'reject' ? decision.error : undefined).toMatchObject({
      status: 500,
      type: 'api_error',
    });
  });

  it('answers 503 api_error when the workspace has no upstream key, after checking the credential', () => {
    const decision = decideOnHeaders(policy, request({ token: KEYLESS }), false, LIMITS);
    expect(decision.action === 'reject' ? decision.error : undefined).toMatchObject({
      status: 503,
      type: 'api_error',
    });
    expect(statusOf(decideOnHeaders(policy, request({ token: 'agw_wrong' }), false, LIMITS))).toBe(401);
  });

  it('forwards with the route, grant, workspace and the headers to remove', () => {
    const decision = forwarded(
      decideOnHeaders(
        policy,
        request(
          { bearer: ALICE, path: `${MESSAGES}?beta=true` },
          ['cookie', 'c=1'],
          ['x-forwarded-for', '1.2.3.4'],
          ['x-stainless-os', 'Linux'],
        ),
        false,
        LIMITS,
      ),
    );
    expect(decision.route).toBe('messages');
    expect(decision.grant.id).toBe('alice');
    expect(decision.grant.models).toBeUndefined();
    expect(decision.workspace).toEqual({ id: 'team-a', upstreamApiKey: 'sk-ant-team-a' });
    expect(decision.removeHeaders).toEqual(['authorization', 'cookie', 'x-forwarded-for', 'x-stainless-os']);
  });

  it('forwards count_tokens for a Bearer token, with its own workspace', () => {
    const decision = forwarded(
      decideOnHeaders(
        policy,
        request({ token: undefined, bearer: SCOPED, path: `${MESSAGES}/count_tokens` }),
        false,
        LIMITS,
      ),
    );
    expect(decision.route).toBe('count_tokens');
    expect(decision.grant.id).toBe('scoped');
    expect(decision.workspace.upstreamApiKey).toBe('sk-ant-team-b');
    expect(decision.removeHeaders).toEqual(['authorization']);
  });
});

describe('decideOnHeaders: what the gateway answers itself', () => {
  const MODELS = '/ai-gateway/anthropic/v1/models';
  const replyOf = (decision: HeadersDecision) => {
    if (decision.action !== 'respond') throw new Error(`expected respond, got ${decision.action}`);
    return decision.reply;
  };
  const json = (decision: HeadersDecision): unknown => JSON.parse(replyOf(decision).body?.toString() ?? '');

  it('answers HEAD probes with 200 and no body, with or without a token', () => {
    for (const path of ['/ai-gateway/anthropic', '/ai-gateway/anthropic/api/hello', MESSAGES, MODELS]) {
      for (const token of [undefined, ALICE, 'agw_wrong']) {
        const reply = replyOf(
          decideOnHeaders(policy, request({ method: 'HEAD', path, token }), true, LIMITS),
        );
        expect(reply, path).toEqual({ status: 200, reason: 'probe' });
      }
    }
  });

  it('lists the models the token may use, after checking the credential', () => {
    expect(
      statusOf(
        decideOnHeaders(policy, request({ method: 'GET', path: MODELS, token: undefined }), true, LIMITS),
      ),
    ).toBe(401);
    const all = json(decideOnHeaders(policy, request({ method: 'GET', path: MODELS }), true, LIMITS));
    expect(all).toMatchObject({
      data: [{ id: 'claude-sonnet-4-6' }, { id: 'claude-haiku-4-5' }],
      has_more: false,
    });
    const scoped = json(
      decideOnHeaders(policy, request({ method: 'GET', path: MODELS, token: SCOPED }), true, LIMITS),
    );
    expect(scoped).toMatchObject({ data: [{ id: 'claude-haiku-4-5' }], first_id: 'claude-haiku-4-5' });
  });

  it('answers the models listing even for a workspace without an upstream key', () => {
    const decision = decideOnHeaders(
      policy,
      request({ method: 'GET', path: MODELS, token: KEYLESS }),
      true,
      LIMITS,
    );
    expect(replyOf(decision).reason).toBe('models_list');
  });

  it('retrieves one model, and 404 for one outside the scope or of another provider', () => {
    const get = (id: string, token = ALICE) =>
      decideOnHeaders(policy, request({ method: 'GET', path: `${MODELS}/${id}`, token }), true, LIMITS);
    expect(json(get('claude-sonnet-4-6'))).toMatchObject({ type: 'model', id: 'claude-sonnet-4-6' });
    expect(statusOf(get('claude-sonnet-4-6', SCOPED))).toBe(404);
    expect(statusOf(get('gpt-5'))).toBe(404);
    expect(statusOf(get('claude-sonnet-4-6', 'agw_wrong'))).toBe(401);
  });

  it('names who asked on every answer and refusal after the credential, and no one before it', () => {
    const decide = (path: string, token: string | undefined, endOfStream = true, method = 'GET') =>
      decideOnHeaders(policy, request({ method, path, token }), endOfStream, LIMITS);
    const callerOf = (decision: HeadersDecision) =>
      decision.action === 'forward' ? undefined : decision.caller;
    expect(callerOf(decide(MODELS, ALICE))).toEqual({
      tokenId: 'alice',
      workspace: 'team-a',
      route: 'models',
    });
    expect(callerOf(decide(`${MODELS}/gpt-5`, SCOPED))).toEqual({
      tokenId: 'scoped',
      workspace: 'team-b',
      route: 'models',
    });
    // Refused after the credential: an empty body, a workspace without a key.
    expect(callerOf(decide(MESSAGES, ALICE, true, 'POST'))).toEqual({
      tokenId: 'alice',
      workspace: 'team-a',
      route: 'messages',
    });
    expect(callerOf(decide(MESSAGES, KEYLESS, false, 'POST'))).toMatchObject({ tokenId: 'keyless' });
    // Before it: no token, a wrong one, a probe, a path not served.
    expect(callerOf(decide(MODELS, undefined))).toBeUndefined();
    expect(callerOf(decide(MODELS, 'agw_wrong'))).toBeUndefined();
    expect(callerOf(decide(MODELS, ALICE, true, 'HEAD'))).toBeUndefined();
    expect(callerOf(decide('/ai-gateway/anthropic/v1/batches', ALICE, false, 'POST'))).toBeUndefined();
  });

  it('answers 400 for a bad listing query', () => {
    const decision = decideOnHeaders(
      policy,
      request({ method: 'GET', path: `${MODELS}?limit=0` }),
      true,
      LIMITS,
    );
    expect(decision.action === 'reject' ? decision.error : undefined).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
    });
  });
});

describe('decideOnBody', () => {
  const alice = forwarded(decideOnHeaders(policy, request(), false, LIMITS));
  const scoped = forwarded(decideOnHeaders(policy, request({ token: SCOPED }), false, LIMITS));
  const body = (text: string): Buffer => Buffer.from(text, 'utf8');

  it('lets an Anthropic catalog model through', () => {
    expect(decideOnBody(policy, alice, body('{"model":"claude-sonnet-4-6","max_tokens":1}'))).toBeUndefined();
    expect(decideOnBody(policy, scoped, body('{"model":"claude-haiku-4-5"}'))).toBeUndefined();
  });

  it('answers 400 with a specific message for each scan problem', () => {
    const cases: Array<[Buffer, string]> = [
      [body(''), 'empty_body'],
      [body('  \n'), 'empty_body'],
      [Buffer.from([0x7b, 0xff, 0x7d]), 'invalid_utf8'],
      [body('{"model":'), 'invalid_json'],
      [body('[{"model":"claude-sonnet-4-6"}]'), 'not_an_object'],
      [body('{"messages":[]}'), 'missing_model'],
      [body('{"model":42}'), 'model_not_a_string'],
      [body('{"model":"claude-sonnet-4-6","model":"gpt-5"}'), 'duplicate_model'],
    ];
    const messages = new Set<string>();
    for (const [payload, reason] of cases) {
      const error = decideOnBody(policy, alice, payload);
      expect(error?.reason, reason).toBe(reason);
      expect(error?.status, reason).toBe(400);
      expect(error?.type, reason).toBe('invalid_request_error');
      messages.add(error?.message ?? '');
    }
    expect(messages.size).toBe(7); // the two empty bodies share one message
  });

  it('answers 400 unknown model for a model outside the catalog, including the empty string', () => {
    for (const model of ['claude-sonnet-9', '', 'Claude-Sonnet-4-6']) {
      const error = decideOnBody(policy, alice, body(JSON.stringify({ model })));
      expect(error, model).toMatchObject({
        status: 400,
        type: 'invalid_request_error',
        message: `unknown model: ${JSON.stringify(model)} (see GET /ai-gateway/anthropic/v1/models for the models this gateway serves)`,
      });
    }
  });

  it('answers 400 unknown model for a model written longer than any catalog id can be, escaped or not', () => {
    const longest = Math.max(...[...policy.catalog.keys()].map((id) => id.length));
    const escaped = (id: string) =>
      [...id].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
    for (const model of [
      'x'.repeat(6 * longest + 1),
      `é${'a'.repeat(1024 * 1024)}`,
      escaped('x'.repeat(longest + 1)),
    ]) {
      expect(decideOnBody(policy, alice, body(`{"model":"${model}"}`)), model.slice(0, 20)).toMatchObject({
        status: 400,
        message: UNKNOWN_LONG_MODEL.message,
        reason: 'unknown_model',
      });
    }
    // The longest id, every character escaped, is still read and allowed.
    const id = [...policy.catalog.keys()].find((k) => k.length === longest) as string;
    expect(decideOnBody(policy, alice, body(`{"model":"${escaped(id)}"}`))).toEqual(
      decideOnBody(policy, alice, body(JSON.stringify({ model: id }))),
    );
  });

  it('answers 400 for a model of another provider', () => {
    expect(decideOnBody(policy, alice, body('{"model":"gpt-5"}'))).toMatchObject({
      status: 400,
      message: 'model is not available on this endpoint',
    });
  });

  it('answers 403 for a model outside the token scope', () => {
    expect(decideOnBody(policy, scoped, body('{"model":"claude-sonnet-4-6"}'))).toMatchObject({
      status: 403,
      type: 'permission_error',
    });
  });

  it('decides on the top-level model only', () => {
    const nested = '{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"x","model":"gpt-5"}]}';
    expect(decideOnBody(policy, scoped, body(nested))).toBeUndefined();
  });
});
