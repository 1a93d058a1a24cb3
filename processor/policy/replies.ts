// Successful answers the gateway gives itself, without the upstream: the
// models listing and the reachability probe. Like GatewayError, a plain value;
// processor/extproc/responses.ts turns it into an ImmediateResponse.

export interface LocalReply {
  readonly status: number;
  /** A JSON document, already rendered; no body at all when undefined. */
  readonly body?: Buffer | undefined;
  /** A short, stable code for logs and Envoy's access log (never shown to clients). */
  readonly reason: string;
}

export function jsonReply(body: unknown, reason: string): LocalReply {
  return { status: 200, body: Buffer.from(JSON.stringify(body)), reason };
}

/**
 * The answer to `HEAD` on the base URL and the endpoints it serves: 200, no
 * body, no credential needed. Clients send it to check that the gateway is
 * there and to open the connection early (Claude Code's preconnect is `HEAD
 * <base>/api/hello`, with no key, its result ignored). A HEAD carries no body,
 * reaches nothing upstream and learns nothing a 401 would not tell.
 */
export const PROBE_REPLY: LocalReply = { status: 200, reason: 'probe' };
