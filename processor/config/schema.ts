// The configuration file's schema (YAML or JSON). One file configures both
// halves: the Envoy bootstrap (listen, upstream, limits) and the processor's
// policy (catalog, workspaces, tokens). Every field has a default, so no file
// at all is a working configuration (see README: "Configuration").
import { z } from 'zod';

const secretSource = z.union([
  z.strictObject({ env: z.string().min(1).describe('name of an environment variable') }),
  z.strictObject({ file: z.string().min(1).describe('path of a file (one trailing newline is ignored)') }),
]);

const catalogModel = z.strictObject({
  id: z.string().min(1),
  provider: z.string().min(1).describe('"anthropic" for the models this endpoint serves'),
  display_name: z.string().min(1),
  created_at: z.iso.datetime({ offset: true }).optional(),
});

const positiveInt = z.number().int().positive();

/** Limits of one token or workspace (docs/operations.md, "Quotas"); absent ones are not enforced. */
const quota = z.strictObject({
  requests_per_minute: positiveInt.optional(),
  tokens_per_minute: positiveInt.optional().describe('input + cache-write + output tokens per minute'),
  tokens_per_day: positiveInt.optional().describe('the same tokens per UTC day'),
});

const workspace = z.strictObject({
  id: z.string().min(1),
  upstream_api_key: secretSource.describe("the workspace's Anthropic API key, sent upstream as x-api-key"),
  quota: quota.optional(),
});

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits (SHA-256)');

const token = z
  .strictObject({
    id: z.string().min(1).describe('a public name for logs and metrics'),
    workspace: z.string().min(1),
    sha256: sha256Hex.optional().describe('SHA-256 of the token (`npm run cli -- mint-token`)'),
    env: z.string().min(1).optional().describe('environment variable holding the raw token, hashed at load'),
    models: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('the models this token may use; all Anthropic models if absent'),
    quota: quota.optional(),
  })
  .refine((t) => (t.sha256 === undefined) !== (t.env === undefined), {
    message: 'give exactly one of sha256 or env',
  });

const port = z.number().int().min(0).max(65535);

export const configSchema = z.strictObject({
  listen: z.strictObject({ address: z.string().default('0.0.0.0'), port: port.default(8080) }).prefault({}),
  admin: z.strictObject({ address: z.string().default('127.0.0.1'), port: port.default(9901) }).prefault({}),
  processor: z
    .strictObject({
      address: z
        .string()
        .default('127.0.0.1:50051')
        .describe('gRPC address of the processor: host:port or unix:/path'),
      message_timeout_ms: z.number().int().positive().default(5000),
    })
    .prefault({}),
  upstream: z
    .strictObject({
      url: z.url({ protocol: /^https?$/ }).default('https://api.anthropic.com'),
      timeout_seconds: z.number().positive().default(600),
      connect_timeout_seconds: z.number().positive().default(10),
    })
    .prefault({}),
  limits: z
    .strictObject({
      max_request_body_bytes: z
        .number()
        .int()
        .positive()
        .default(32 * 1024 * 1024),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      enabled: z.boolean().default(true),
      address: z.string().default('127.0.0.1'),
      port: port.default(9464),
    })
    .prefault({})
    .describe("the processor's Prometheus endpoint, GET /metrics"),
  quotas: z
    .strictObject({
      store: z.enum(['memory', 'redis']).default('memory'),
      redis: z
        .strictObject({
          url: z
            .union([z.string().min(1), secretSource])
            .describe('redis://[user:password@]host:port[/db]; may hold a password, so env or file is best'),
          key_prefix: z.string().default('anthropic-gateway:'),
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
    }),
  catalog: z.array(catalogModel).min(1).optional().describe('replaces the built-in catalog'),
  workspaces: z
    .array(workspace)
    .min(1)
    .default([{ id: 'default', upstream_api_key: { env: 'ANTHROPIC_API_KEY' } }]),
  tokens: z
    .array(token)
    .min(1)
    .default([{ id: 'default', workspace: 'default', env: 'GATEWAY_TOKEN' }]),
});

export type ConfigFile = z.infer<typeof configSchema>;
