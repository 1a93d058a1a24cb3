// The configuration file's schema (YAML or JSON). One file configures both
// halves: the Envoy bootstrap (listen, upstream, limits) and the processor's
// policy (catalog, workspaces, tokens). Every field has a default, so no file
// at all is a working configuration (see README: "Configuration").
import { z } from 'zod';
import { addressSchema } from './address.ts';

const secretSource = z.union([
  z.strictObject({ env: z.string().min(1).describe('name of an environment variable') }),
  z.strictObject({ file: z.string().min(1).describe('path of a file (one trailing newline is ignored)') }),
]);

// Prices in USD per million tokens (docs/operations.md, "Cost and budgets").
// Costs are counted in whole nano-dollars (processor/cost/price.ts): a price
// with more than three decimals could not be.
const usdPerMillion = z
  .number()
  .min(0)
  .refine((usd) => Math.abs(usd * 1000 - Math.round(usd * 1000)) < 1e-6, {
    message: 'at most three decimals ($0.001 per million tokens)',
  });
const rates = {
  input: usdPerMillion.describe('USD per million input tokens'),
  output: usdPerMillion.describe('USD per million output tokens'),
  cache_write_5m: usdPerMillion.describe('USD per million tokens written to the cache for 5 minutes'),
  cache_write_1h: usdPerMillion.describe('USD per million tokens written to the cache for 1 hour'),
  cache_read: usdPerMillion.describe('USD per million tokens read from the cache (hits and refreshes)'),
};
export const modelPrices = z.strictObject({
  ...rates,
  long_prompt: z
    .array(
      z.strictObject({
        above_prompt_tokens: z
          .number()
          .int()
          .positive()
          .describe('applies to a request whose prompt (input + cache writes + cache reads) exceeds this'),
        ...rates,
      }),
    )
    .min(1)
    .optional()
    .describe('higher rates for every token of a request with a long prompt'),
});

export const catalogModel = z.strictObject({
  id: z.string().min(1).describe('the model id clients send as `model`'),
  provider: z.string().min(1).describe('"anthropic" for the models this endpoint serves'),
  display_name: z.string().min(1).describe('a readable name'),
  created_at: z.iso.datetime({ offset: true }).optional().describe('release date, ISO 8601'),
  prices: modelPrices
    .optional()
    .describe(
      "USD per million tokens; absent: the built-in catalog's price of the same id, if any, else unknown (no cost)",
    ),
});

const positiveInt = z.number().int().positive();

/** Limits of one token or workspace (docs/operations.md, "Quotas"); absent ones are not enforced. */
const quota = z.strictObject({
  requests_per_minute: positiveInt.optional().describe('requests admitted per minute'),
  tokens_per_minute: positiveInt.optional().describe('input + cache-write + output tokens per minute'),
  tokens_per_day: positiveInt.optional().describe('the same tokens per UTC day'),
});

/** Spend limits of one token or workspace (docs/operations.md, "Budgets"); absent ones are not enforced. */
const budget = z.strictObject({
  usd_per_day: z.number().positive().optional().describe('USD spent per UTC day'),
  usd_per_month: z.number().positive().optional().describe('USD spent per UTC calendar month'),
});

export const workspace = z.strictObject({
  id: z.string().min(1).describe('the name tokens refer to'),
  upstream_api_key: secretSource.describe("the workspace's Anthropic API key, sent upstream as x-api-key"),
  quota: quota.optional(),
  budget: budget.optional().describe("the workspace's spend limits, all of its tokens together"),
});

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits (SHA-256)');

export const token = z
  .strictObject({
    id: z.string().min(1).describe('a public name for logs and metrics'),
    workspace: z.string().min(1).describe('the id of the workspace whose Anthropic key this token uses'),
    sha256: sha256Hex
      .optional()
      .describe('SHA-256 of the token, hex (`npm run cli -- mint-token`); give this or env'),
    env: z
      .string()
      .min(1)
      .optional()
      .describe('environment variable holding the raw token, hashed at load; give this or sha256'),
    models: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('the models this token may use; all Anthropic models if absent'),
    quota: quota.optional(),
    budget: budget.optional().describe('the token\'s spend limits (docs/operations.md, "Budgets")'),
  })
  .refine((t) => (t.sha256 === undefined) !== (t.env === undefined), {
    message: 'give exactly one of sha256 or env',
  });

const port = z.number().int().min(0).max(65535);

/** Debian's (and the Envoy image's) bundle of public CAs. */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

// Envoy counts durations in whole milliseconds at best (docs/operations.md, "Keepalive").
const keepaliveInterval = z
  .number()
  .refine((seconds) => seconds === 0 || seconds >= 0.001, 'must be 0 (no pings) or at least 0.001 (1 ms)');
const keepaliveTimeout = z.number().min(0.001);

export const configSchema = z.strictObject({
  listen: z
    .strictObject({
      address: z.string().default('0.0.0.0').describe('address Envoy listens on for clients'),
      port: port.default(8080).describe('port Envoy listens on for clients'),
      // Slow clients (docs/security.md). None of these bounds a response, so a
      // long SSE stream is cut only by upstream.timeout_seconds of silence.
      request_headers_timeout_seconds: z
        .number()
        .positive()
        .default(10)
        .describe("a request's headers must all arrive within this from its first byte, else 408"),
      request_timeout_seconds: z
        .number()
        .positive()
        .default(300)
        .describe(
          'a whole request, body included, must arrive within this, else 408 (a 32 MiB body at 1 Mbit/s takes 268 s)',
        ),
      idle_timeout_seconds: z
        .number()
        .positive()
        .default(60)
        .describe('a client connection with no request in flight is closed after this'),
      tls: z
        .strictObject({
          cert_file: z
            .string()
            .min(1)
            .describe('PEM file of the certificate Envoy presents to clients, intermediates after it'),
          key_file: z.string().min(1).describe("PEM file of the certificate's private key"),
        })
        .optional()
        .describe(
          'serve HTTPS on `port` (HTTP/2 or HTTP/1.1, by ALPN): `cert_file`, the PEM file of the certificate (intermediates after it), and `key_file`, its private key; read when Envoy starts. Absent: plain HTTP',
        ),
    })
    .prefault({})
    .describe("Envoy's listener for clients"),
  admin: z
    .strictObject({
      socket: z
        .string()
        .min(1)
        .optional()
        .describe(
          "path of the admin interface's Unix socket (mode 0600), in a directory only the gateway's user can write; default: a new private directory at each start, whose path `npm start` prints",
        ),
      address: z
        .string()
        .default('127.0.0.1')
        .describe('with `port`: the TCP address of the admin interface (keep it on loopback)'),
      port: port
        .optional()
        .describe(
          'serve the admin interface over TCP on this port instead of the socket (warned about: anyone who can connect can make Envoy log secrets; docs/security.md)',
        ),
    })
    .refine((admin) => admin.socket === undefined || admin.port === undefined, {
      message: 'give socket or port (TCP), not both',
    })
    .prefault({})
    .describe(
      "Envoy's admin interface (stats, readiness), which has no authentication: a Unix socket only the gateway's user can open",
    ),
  processor: z
    .strictObject({
      // prefault: the default is text, parsed like a configured address.
      address: addressSchema
        .prefault('127.0.0.1:50051')
        .describe('gRPC address of the processor: host:port or unix:/path'),
      message_timeout_ms: z
        .number()
        .int()
        .positive()
        .default(5000)
        .describe('how long Envoy waits for a decision before failing closed (503); sized for a 32 MiB body'),
      shutdown_timeout_seconds: z
        .number()
        .positive()
        .default(20)
        .describe('on SIGTERM, how long the processor lets the requests it is deciding finish'),
      keepalive_interval_seconds: keepaliveInterval
        .default(5)
        .describe(
          'how often Envoy and the processor each ping (HTTP/2 PING) every connection between them, to find one whose peer is gone without closing it; 0: never',
        ),
      keepalive_timeout_seconds: keepaliveTimeout
        .default(3)
        .describe(
          'how long a ping may go unanswered before its connection is closed (Envoy then opens a new one): a dead connection is found within about interval + timeout',
        ),
    })
    .prefault({})
    .describe('the ext_proc processor, as Envoy reaches it'),
  upstream: z
    .strictObject({
      url: z
        .url({ protocol: /^https?$/ })
        .default('https://api.anthropic.com')
        .describe('where requests go; http:// only for a test upstream'),
      timeout_seconds: z
        .number()
        .positive()
        .default(600)
        .describe(
          'the longest the upstream may stay silent (no byte either way): before its answer a 504, in a stream a reset; a stream of any length whose events keep coming is never cut',
        ),
      connect_timeout_seconds: z.number().positive().default(10).describe('to open a connection upstream'),
      ca_file: z
        .string()
        .min(1)
        .default(SYSTEM_CA_BUNDLE)
        .describe(
          "PEM file of the CAs Envoy trusts for the upstream's certificate (https only); behind a TLS-inspecting proxy, a bundle that holds its CA",
        ),
      keepalive_interval_seconds: keepaliveInterval
        .default(30)
        .describe(
          'how often Envoy pings its HTTP/2 connections upstream (api.anthropic.com negotiates HTTP/2), so a stream waiting on a connection that silently died fails instead of waiting for timeout_seconds; 0: never',
        ),
      keepalive_timeout_seconds: keepaliveTimeout
        .default(10)
        .describe('how long an upstream ping may go unanswered before Envoy closes the connection'),
    })
    .prefault({})
    .describe("Anthropic's API"),
  limits: z
    .strictObject({
      // Envoy buffers at least its 1 MiB per-connection buffer whatever the
      // route asks, so a smaller limit would not be enforced: refuse it.
      max_request_body_bytes: z
        .number()
        .int()
        .min(1024 * 1024, 'must be at least 1048576 (1 MiB): Envoy does not enforce a smaller body limit')
        .default(32 * 1024 * 1024)
        .describe("larger request bodies get 413 (32 MiB: Anthropic's own limit); at least 1 MiB"),
    })
    .prefault({})
    .describe('request limits'),
  log: z
    .strictObject({
      level: z
        .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info')
        .describe("the processor's log level (JSON lines on stdout)"),
    })
    .prefault({})
    .describe("the processor's log"),
  metrics: z
    .strictObject({
      enabled: z.boolean().default(true).describe('serve the endpoint at all'),
      address: z.string().default('127.0.0.1').describe('address of the metrics endpoint'),
      port: port.default(9464).describe('port of the metrics endpoint'),
    })
    .prefault({})
    .describe("the processor's Prometheus endpoint, GET /metrics"),
  quotas: z
    .strictObject({
      store: z
        .enum(['memory', 'redis'])
        .default('memory')
        .describe('memory: one processor; redis: counters shared by every replica'),
      redis: z
        .strictObject({
          url: z
            .union([z.string().min(1), secretSource])
            .describe('redis://[user:password@]host:port[/db]; may hold a password, so env or file is best'),
          key_prefix: z
            .string()
            .default('anthropic-gateway:')
            .describe('prefix of every key the gateway writes'),
          timeout_ms: positiveInt.default(250).describe('how long one Redis call may take'),
        })
        .optional(),
      fail_open: z
        .boolean()
        .default(false)
        .describe('when the store is unreachable: admit (true) or refuse with 503 (false)'),
    })
    .prefault({})
    .refine((q) => q.store !== 'redis' || q.redis !== undefined, {
      message: 'store redis needs a redis section with a url',
    })
    .describe('where quota counters are kept (the limits themselves are set per token and workspace)'),
  catalog: z
    .array(catalogModel)
    .min(1)
    .optional()
    .describe(
      'the models the gateway knows; replaces the built-in catalog (processor/config/default-catalog.ts)',
    ),
  workspaces: z
    .array(workspace)
    .min(1)
    .default([{ id: 'default', upstream_api_key: { env: 'ANTHROPIC_API_KEY' } }])
    .describe(
      'the workspaces, each with its own Anthropic API key, injected upstream (never read from a request)',
    ),
  tokens: z
    .array(token)
    .min(1)
    .default([{ id: 'default', workspace: 'default', env: 'GATEWAY_TOKEN' }])
    .describe('the gateway tokens clients send as their API key, stored as SHA-256 digests'),
});

export type ConfigFile = z.infer<typeof configSchema>;
