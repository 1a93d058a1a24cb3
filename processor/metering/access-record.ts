// The access log record of one request, as plain values (docs/operations.md,
// "Access log"). Built by the metering stream when the response has passed.
import type { Usage } from './usage.ts';

export interface AccessRecord {
  readonly requestId: string | undefined;
  /** The gateway token's public id; never the token. */
  readonly tokenId: string | undefined;
  readonly workspace: string | undefined;
  /** A model of the catalog, once the request was forwarded. */
  readonly model: string | undefined;
  /** What a request refused for its model asked for (escaped, capped): client text, so never a metric label. */
  readonly requestedModel?: string | undefined;
  readonly route: string | undefined;
  readonly status: number;
  readonly streamed: boolean;
  /** From the request reaching Envoy to the end of the response (or of what was sent of it). */
  readonly latencyMs: number | undefined;
  /** From the request reaching Envoy to its response headers. */
  readonly ttfbMs: number | undefined;
  /** /v1/messages: tokens the upstream reported. */
  readonly usage?: Usage | undefined;
  /** /v1/messages/count_tokens: the tokens counted (not consumed). */
  readonly countedInputTokens?: number | undefined;
  /** False when the response ended before its last byte (the client went away, say). */
  readonly complete: boolean;
  /** Why the gateway refused the request, when it did. */
  readonly reason?: string | undefined;
}

/** Milliseconds between two instants, to the microsecond; undefined if either is unknown. */
export function elapsedMs(from: number | undefined, to: number): number | undefined {
  if (from === undefined || Number.isNaN(from)) return undefined;
  return Math.max(0, Math.round((to - from) * 1000) / 1000);
}
