// Generated hostile requests and what must hold for every one of them, shared
// by the three fuzz tiers (test/unit/fuzz-policy, test/integration/fuzz-extproc,
// test/e2e/fuzz-envoy). The requests mix the realistic with the hostile:
// credentials presented every which way, headers that try to steer or leak,
// content-encodings, and bodies that are nearly right (duplicate, escaped,
// nested or mistyped models, byte-level mutations) or plainly wrong.
//
// FUZZ_RUNS multiplies the default run counts (docs/security.md: the long run).
import fc from 'fast-check';
import { DEFAULT_CATALOG } from '../../processor/config/default-catalog.ts';
import { ANTHROPIC } from '../../processor/policy/catalog.ts';
import { FORWARDED_HEADERS } from '../../processor/policy/upstream-headers.ts';

/** How many times the default run counts to run (FUZZ_RUNS=20 for the documented long run). */
export const FUZZ_SCALE = Math.max(1, Number(process.env.FUZZ_RUNS ?? '1') || 1);
export const runs = (base: number): number => Math.round(base * FUZZ_SCALE);

/** The tokens the fuzz configurations hold: one for every model, one scoped to a single model. */
export const FUZZ_TOKEN = 'agw_fuzz_token_0123456789abcdefghijklmnopqrstuvwx';
export const FUZZ_SCOPED_TOKEN = 'agw_fuzz_scoped_0123456789abcdefghijklmnopqrstu';
export const FUZZ_SCOPED_MODEL = 'claude-haiku-4-5';
export const FUZZ_UPSTREAM_KEY = 'sk-ant-fuzz-upstream-key-0123456789';
export const FUZZ_SCOPED_UPSTREAM_KEY = 'sk-ant-fuzz-scoped-upstream-key-0123';

export const MESSAGES_PATH = '/ai-gateway/anthropic/v1/messages';
export const COUNT_TOKENS_PATH = '/ai-gateway/anthropic/v1/messages/count_tokens';
const ROUTES = new Set([MESSAGES_PATH, COUNT_TOKENS_PATH]);

export const ANTHROPIC_MODELS = DEFAULT_CATALOG.filter((m) => m.provider === ANTHROPIC).map((m) => m.id);
const OTHER_MODELS = DEFAULT_CATALOG.filter((m) => m.provider !== ANTHROPIC).map((m) => m.id);

/** A raw configuration (for buildConfig) holding the fuzz tokens, with its environment. */
export function fuzzConfig(): { raw: Record<string, unknown>; env: Record<string, string> } {
  return {
    raw: {
      workspaces: [
        { id: 'default', upstream_api_key: { env: 'ANTHROPIC_API_KEY' } },
        { id: 'scoped', upstream_api_key: { env: 'SCOPED_API_KEY' } },
      ],
      tokens: [
        { id: 'fuzz', workspace: 'default', env: 'GATEWAY_TOKEN' },
        { id: 'fuzz-scoped', workspace: 'scoped', env: 'SCOPED_TOKEN', models: [FUZZ_SCOPED_MODEL] },
      ],
    },
    env: {
      GATEWAY_TOKEN: FUZZ_TOKEN,
      SCOPED_TOKEN: FUZZ_SCOPED_TOKEN,
      ANTHROPIC_API_KEY: FUZZ_UPSTREAM_KEY,
      SCOPED_API_KEY: FUZZ_SCOPED_UPSTREAM_KEY,
    },
  };
}

export type Header = readonly [name: string, value: string];

export interface FuzzRequest {
  readonly method: string;
  /** The path as the processor sees it (Envoy has normalised it), query included. */
  readonly path: string;
  /** The client's headers, names lower-case as Envoy delivers them, repeats kept. */
  readonly headers: readonly Header[];
  readonly body: Buffer;
}

// --- credentials --------------------------------------------------------------

const tokenArb: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(FUZZ_TOKEN, FUZZ_SCOPED_TOKEN), weight: 6 },
  {
    arbitrary: fc.constantFrom(
      `${FUZZ_TOKEN}x`,
      FUZZ_TOKEN.slice(0, -1),
      `${FUZZ_TOKEN.slice(0, -3)}XYZ`,
      FUZZ_TOKEN.toUpperCase(),
      ` ${FUZZ_TOKEN} `,
      `"${FUZZ_TOKEN}"`,
      FUZZ_UPSTREAM_KEY,
      'agw_',
      '',
      'a'.repeat(600),
      `${FUZZ_TOKEN}\t`,
      `${FUZZ_TOKEN},${FUZZ_TOKEN}`,
    ),
    weight: 3,
  },
  { arbitrary: fc.string({ maxLength: 40 }), weight: 1 },
);

const authorizationArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('Bearer', 'bearer', 'BEARER', 'BeArEr', 'Basic', 'Token', '', 'Bearer:', 'Bearer\t'),
    fc.constantFrom(' ', '  ', '    ', ''),
    tokenArb,
    fc.constantFrom('', ' ', '   ', ' extra'),
  )
  .map(([scheme, gap, token, tail]) =>
    scheme === 'Basic'
      ? `Basic ${Buffer.from(`user:${token}`).toString('base64')}`
      : `${scheme}${gap}${token}${tail}`,
  );

const credentialArb: fc.Arbitrary<Header[]> = fc.oneof(
  { arbitrary: fc.constant<Header[]>([]), weight: 1 },
  { arbitrary: tokenArb.map((t): Header[] => [['x-api-key', t]]), weight: 4 },
  { arbitrary: authorizationArb.map((a): Header[] => [['authorization', a]]), weight: 4 },
  {
    arbitrary: fc.tuple(tokenArb, authorizationArb).map(([t, a]): Header[] => [
      ['x-api-key', t],
      ['authorization', a],
    ]),
    weight: 2,
  },
  {
    arbitrary: fc
      .tuple(fc.constantFrom('x-api-key', 'authorization'), tokenArb, tokenArb)
      .map(([name, a, b]): Header[] =>
        name === 'x-api-key'
          ? [
              ['x-api-key', a],
              ['x-api-key', b],
            ]
          : [
              ['authorization', `Bearer ${a}`],
              ['authorization', `Bearer ${b}`],
            ],
      ),
    weight: 1,
  },
);

// --- other headers ------------------------------------------------------------

const HOSTILE_HEADER_NAMES = [
  ...FORWARDED_HEADERS,
  'x-envoy-original-path',
  'x-envoy-internal',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-retry-on',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'forwarded',
  'x-real-ip',
  'via',
  'cookie',
  'proxy-authorization',
  'x_api_key',
  'x-api-key-2',
  'keep-alive',
  'te',
  'upgrade',
  'trailer',
  'x-request-id',
  'x-stainless-os',
  'host',
  'content-length',
  'transfer-encoding',
  'x-original-url',
  'x-http-method-override',
];

const headerValueArb = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom(FUZZ_TOKEN, `Bearer ${FUZZ_TOKEN}`, 'gzip', '/admin', 'evil.example', '5xx', 'https'),
  // Envoy delivers header values as bytes; latin1 covers every byte but CR, LF and NUL.
  fc
    .uint8Array({ maxLength: 24 })
    .map((bytes) => Buffer.from(bytes.filter((b) => b !== 0x0d && b !== 0x0a && b !== 0)).toString('latin1')),
);

const otherHeaderArb: fc.Arbitrary<Header> = fc.tuple(
  fc.oneof(
    { arbitrary: fc.constantFrom(...HOSTILE_HEADER_NAMES), weight: 4 },
    { arbitrary: fc.stringMatching(/^[a-z0-9!#$%&'*+.^_`|~-]{1,20}$/), weight: 1 },
  ),
  headerValueArb,
);

const contentEncodingArb: fc.Arbitrary<Header[]> = fc.oneof(
  { arbitrary: fc.constant<Header[]>([]), weight: 6 },
  {
    arbitrary: fc
      .array(
        fc.constantFrom(
          'identity',
          ' Identity ',
          'gzip',
          'GZIP',
          'br',
          'deflate',
          'identity, gzip',
          '',
          'zstd',
        ),
        {
          minLength: 1,
          maxLength: 2,
        },
      )
      .map((values) => values.map((value): Header => ['content-encoding', value])),
    weight: 2,
  },
);

// --- bodies -------------------------------------------------------------------

const modelValueArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom(...ANTHROPIC_MODELS), weight: 8 },
  { arbitrary: fc.constantFrom(...OTHER_MODELS), weight: 2 },
  {
    // Near misses: spaced, upper-cased, with a NUL.
    arbitrary: fc
      .tuple(fc.constantFrom(...ANTHROPIC_MODELS), fc.constantFrom(' %', '% ', 'upper', '%\u0000'))
      .map(([model, variant]) => (variant === 'upper' ? model.toUpperCase() : variant.replace('%', model))),
    weight: 1,
  },
  { arbitrary: fc.string({ maxLength: 12 }), weight: 1 },
  {
    arbitrary: fc.constantFrom(null, 42, true, [], {}, ['claude-sonnet-4-6'], { id: 'claude-sonnet-4-6' }),
    weight: 1,
  },
);

/** A key that decodes to "model", written plainly or with \u escapes. */
const modelKeyArb = fc.constantFrom(
  '"model"',
  '"mod\\u0065l"',
  '"\\u006dodel"',
  '"\\u006D\\u006F\\u0064\\u0065\\u006C"',
);

const fillerMemberArb = fc.oneof(
  fc.constant('"max_tokens":1024'),
  fc.constant('"messages":[{"role":"user","content":"hi"}]'),
  fc.constant('"stream":true'),
  fc.constant('"metadata":{"model":"claude-opus-4-8"}'),
  fc.constant('"tools":[{"name":"t","input_schema":{"properties":{"model":{"type":"string"}}}}]'),
  fc
    .tuple(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }))
    .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`),
);

export interface GeneratedBody {
  readonly body: Buffer;
  /** Set when the generator knows what the upstream would read: the model, or why there is none. */
  readonly known?: { readonly models: readonly unknown[] };
}

const objectBodyArb: fc.Arbitrary<GeneratedBody> = fc
  .tuple(
    fc.array(fc.tuple(modelKeyArb, modelValueArb), { minLength: 0, maxLength: 2 }),
    fc.array(fillerMemberArb, { maxLength: 4 }),
    fc.nat(),
  )
  .map(([models, fillers, seed]) => {
    const members = [...fillers];
    for (const [key, value] of models) {
      members.splice(seed % (members.length + 1), 0, `${key}:${JSON.stringify(value)}`);
    }
    return {
      body: Buffer.from(`{${members.join(',')}}`),
      known: { models: models.map(([, value]) => value) },
    };
  });

const mutationArb = fc.record({
  kind: fc.constantFrom('delete', 'insert', 'replace', 'truncate'),
  at: fc.nat(),
  byte: fc.oneof(
    fc.constantFrom(...[...'{}[]",:\\ 0e.-nu'].map((c) => c.charCodeAt(0))),
    fc.integer({ min: 0, max: 255 }),
  ),
});

const mutatedBodyArb: fc.Arbitrary<GeneratedBody> = fc
  .tuple(objectBodyArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }))
  .map(([{ body }, mutations]) => {
    let bytes = [...body];
    for (const { kind, at, byte } of mutations) {
      const i = at % (bytes.length + 1);
      if (kind === 'delete') bytes.splice(i, 1);
      else if (kind === 'insert') bytes.splice(i, 0, byte);
      else if (kind === 'replace' && i < bytes.length) bytes[i] = byte;
      else if (kind === 'truncate') bytes = bytes.slice(0, i);
    }
    return { body: Buffer.from(bytes) };
  });

export const bodyArb: fc.Arbitrary<GeneratedBody> = fc.oneof(
  { arbitrary: objectBodyArb, weight: 5 },
  { arbitrary: mutatedBodyArb, weight: 3 },
  { arbitrary: fc.json({ maxDepth: 3 }).map((text) => ({ body: Buffer.from(text) })), weight: 1 },
  { arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ body: Buffer.from(bytes) })), weight: 1 },
  {
    arbitrary: fc
      .constantFrom('', ' ', '\ufeff{"model":"claude-sonnet-4-6"}', '[{"model":"claude-sonnet-4-6"}]')
      .map((text) => ({
        body: Buffer.from(text),
      })),
    weight: 1,
  },
);

// --- whole requests -----------------------------------------------------------

const methodArb = fc.oneof(
  { arbitrary: fc.constant('POST'), weight: 12 },
  { arbitrary: fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'), weight: 2 },
);

const pathArb = fc.oneof(
  { arbitrary: fc.constant(MESSAGES_PATH), weight: 12 },
  { arbitrary: fc.constant(COUNT_TOKENS_PATH), weight: 2 },
  {
    arbitrary: fc.constantFrom('?beta=true', '?x=../../admin', '?', '?a=%2F').map((q) => MESSAGES_PATH + q),
    weight: 2,
  },
  {
    arbitrary: fc.constantFrom(
      '/ai-gateway/anthropic/v1/messages/',
      '/ai-gateway/anthropic/v1/complete',
      '/ai-gateway/anthropic/v1/messages/batches',
      '/v1/messages',
      '/',
      '/AI-GATEWAY/ANTHROPIC/V1/MESSAGES',
      '/ai-gateway/anthropic/v1/messages;x',
      '/ai-gateway/anthropic/v1/models',
      '/ai-gateway/anthropic/v1/models/claude-sonnet-4-6',
      '/ai-gateway/anthropic/v1/models/gpt-4o',
      '/ai-gateway/anthropic/v1/models?limit=2',
      '/ai-gateway/anthropic',
      '',
    ),
    weight: 2,
  },
);

type GeneratedRequest = FuzzRequest & { readonly generated: GeneratedBody };

/** Anything goes: every part drawn from the hostile mix. */
const hostileRequestArb: fc.Arbitrary<GeneratedRequest> = fc
  .record({
    method: methodArb,
    path: pathArb,
    credential: credentialArb,
    others: fc.array(otherHeaderArb, { maxLength: 5 }),
    encoding: contentEncodingArb,
    generated: bodyArb,
    order: fc.nat(),
  })
  .map(({ method, path, credential, others, encoding, generated, order }) => {
    const headers: Header[] = [['content-type', 'application/json'], ...others];
    for (const header of [...credential, ...encoding])
      headers.splice(order % (headers.length + 1), 0, header);
    return { method, path, headers, body: generated.body, generated };
  });

/** A request a client could mean: a good token and one model, with hostile extra headers; mostly let through. */
const plausibleRequestArb: fc.Arbitrary<GeneratedRequest> = fc
  .record({
    path: fc.constantFrom(MESSAGES_PATH, COUNT_TOKENS_PATH, `${MESSAGES_PATH}?beta=true`),
    token: fc.constantFrom(FUZZ_TOKEN, FUZZ_SCOPED_TOKEN),
    asBearer: fc.boolean(),
    others: fc.array(otherHeaderArb, { maxLength: 6 }),
    model: fc.oneof(
      { arbitrary: fc.constant(FUZZ_SCOPED_MODEL), weight: 2 },
      { arbitrary: fc.constantFrom(...ANTHROPIC_MODELS), weight: 1 },
    ),
    fillers: fc.array(fillerMemberArb, { maxLength: 4 }),
    at: fc.nat(),
  })
  .map(({ path, token, asBearer, others, model, fillers, at }) => {
    const credential: Header = asBearer ? ['authorization', `Bearer ${token}`] : ['x-api-key', token];
    // Hostile extras may not carry a credential header: that would make the request ambiguous.
    const extras = others.filter(
      ([name]) => name !== 'x-api-key' && name !== 'authorization' && name !== 'content-encoding',
    );
    const members = [...fillers];
    members.splice(at % (members.length + 1), 0, `"model":${JSON.stringify(model)}`);
    const body = Buffer.from(`{${members.join(',')}}`);
    return {
      method: 'POST',
      path,
      headers: [['content-type', 'application/json'], credential, ...extras],
      body,
      generated: { body, known: { models: [model] } },
    };
  });

export const requestArb: fc.Arbitrary<GeneratedRequest> = fc.oneof(
  { arbitrary: hostileRequestArb, weight: 2 },
  { arbitrary: plausibleRequestArb, weight: 1 },
);

// --- what must hold -----------------------------------------------------------

/** Anthropic's error types and the statuses they go with. */
export const STATUS_OF_TYPE: Readonly<Record<string, readonly number[]>> = {
  invalid_request_error: [400, 405, 415],
  authentication_error: [401],
  permission_error: [403],
  not_found_error: [404],
  request_too_large: [413],
  api_error: [500, 503],
};

/** The names a forwarded request may still carry after the processor's removals (plus pseudo-headers). */
export const UPSTREAM_ALLOWED = new Set([...FORWARDED_HEADERS, 'host', 'content-length', 'x-api-key']);

/** The only tokens that may be granted, and what they grant. */
export const GRANTS: ReadonlyMap<string, { id: string; key: string; models?: ReadonlySet<string> }> = new Map(
  [
    [FUZZ_TOKEN, { id: 'fuzz', key: FUZZ_UPSTREAM_KEY }],
    [
      FUZZ_SCOPED_TOKEN,
      { id: 'fuzz-scoped', key: FUZZ_SCOPED_UPSTREAM_KEY, models: new Set([FUZZ_SCOPED_MODEL]) },
    ],
  ],
);

/**
 * The credential rule as documented (docs/security.md), written independently
 * of processor/policy/credentials.ts: the token the request presents
 * unambiguously, or undefined.
 */
export function specifiedToken(headers: readonly Header[]): string | undefined {
  const apiKeys = headers.filter(([name]) => name === 'x-api-key').map(([, value]) => value);
  const auths = headers.filter(([name]) => name === 'authorization').map(([, value]) => value);
  if (apiKeys.length > 1 || auths.length > 1) return undefined;
  let bearer: string | undefined;
  if (auths.length === 1) {
    const [scheme, ...rest] = (auths[0] ?? '').split(' ').filter((part, i) => i === 0 || part !== '');
    if (scheme?.toLowerCase() !== 'bearer' || rest.length !== 1) return undefined;
    bearer = rest[0];
    if (bearer === undefined || /\s/.test(bearer)) return undefined;
  }
  const apiKey = apiKeys[0]?.trim();
  if (apiKey !== undefined && bearer !== undefined && apiKey !== bearer) return undefined;
  const token = bearer ?? apiKey;
  return token === undefined || token === '' || token.length > 512 ? undefined : token;
}

/** Whether any content-encoding names a coding other than identity. */
export function isCompressed(headers: readonly Header[]): boolean {
  return headers
    .filter(([name]) => name === 'content-encoding')
    .some(([, value]) => value.split(',').some((c) => !['', 'identity'].includes(c.trim().toLowerCase())));
}

export function isRoute(method: string, path: string): boolean {
  return method === 'POST' && ROUTES.has(path.split('?')[0] ?? '');
}

/** Requests the gateway may answer itself, without the upstream: the models listing and HEAD probes. */
export function isAnsweredByGateway(method: string, path: string): boolean {
  return method === 'HEAD' || (method === 'GET' && (path.split('?')[0] ?? '').startsWith(MODELS_LISTING));
}
const MODELS_LISTING = '/ai-gateway/anthropic/v1/models';

/**
 * The model JSON.parse reads from the body (what the upstream reads), or
 * undefined when the body is not a JSON object with a string model.
 */
export function parsedModel(body: Buffer): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body));
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const model: unknown = Reflect.get(value, 'model');
  return Object.hasOwn(value, 'model') && typeof model === 'string' ? model : undefined;
}

/** Whether a token granted `grantToken` may send `body` upstream, by the catalog, the scope and JSON.parse. */
export function bodyMayGoUpstream(grantToken: string, body: Buffer): boolean {
  const model = parsedModel(body);
  if (model === undefined || !ANTHROPIC_MODELS.includes(model)) return false;
  const scope = GRANTS.get(grantToken)?.models;
  return scope === undefined || scope.has(model);
}
