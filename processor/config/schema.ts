// The configuration file's schema (YAML or JSON). One file configures both
// halves: the Envoy bootstrap (listen, upstream, limits) and the processor's
// policy (catalog, workspaces, tokens). Every field has a default, so no file
// at all is a working configuration (see README: "Configuration").
import { z } from 'zod';

const secretSource = z.union([
  z.strictObject({ env: z.string().min(1).describe('name of an environment variable') }),
  z.strictObject({ file: z.string().min(1).describe('path of a file (one trailing newline is ignored)') }),
]);

export const catalogModel = z.strictObject({
  id: z.string().min(1),
  provider: z.string().min(1).describe('"anthropic" for the models this endpoint serves'),
  display_name: z.string().min(1),
  created_at: z.iso.datetime({ offset: true }).optional(),
});

export const workspace = z.strictObject({
  id: z.string().min(1),
  upstream_api_key: secretSource.describe("the workspace's Anthropic API key, sent upstream as x-api-key"),
});

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits (SHA-256)');

export const token = z
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
      shutdown_timeout_seconds: z
        .number()
        .positive()
        .default(20)
        .describe(
          'on SIGTERM, how long the processor lets requests it is still deciding finish before it cancels them',
        ),
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
