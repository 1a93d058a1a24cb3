// The soak's fake Anthropic upstream (a fixture): answers each request as its
// tag says (scenario.ts) and checks that every request that reached it was
// approved by a decision of the gateway. It keeps counts, not requests, so a
// run of any length holds constant memory.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FORWARDED_HEADERS, UPSTREAM_CREDENTIAL_HEADER } from '../../processor/policy/upstream-headers.ts';
import {
  countTokensAnswer,
  jsonAnswer,
  parseTag,
  reachesUpstream,
  type Scenario,
  type SoakTag,
  sseEvents,
} from './scenario.ts';

/** Headers Envoy itself may send upstream besides the allowlist: framing and the host. */
const TRANSPORT = new Set(['host', 'content-length', 'transfer-encoding']);

export interface SoakUpstream {
  readonly url: string;
  /** Requests that reached the upstream, by tag kind (`untagged` for none). */
  readonly received: Map<string, number>;
  /**
   * Requests that reached the upstream without the gateway's approval: no
   * injected credential, a header outside the allowlist, or a kind the gateway
   * must have refused or answered itself. Each with the reason.
   */
  readonly unapproved: string[];
  close(): Promise<void>;
}

export async function startSoakUpstream(scenario: Scenario, upstreamKey: string): Promise<SoakUpstream> {
  const received = new Map<string, number>();
  const unapproved: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const { tag, model } = readTag(body);
      const kind = tag?.kind ?? 'untagged';
      received.set(kind, (received.get(kind) ?? 0) + 1);
      const problem = approvalProblem(req, upstreamKey, tag);
      if (problem !== undefined) unapproved.push(`${kind}: ${problem}`);
      void answer(scenario, req, res, tag, model).catch(() => res.destroy());
    });
    req.on('error', () => res.destroy());
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    unapproved,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readTag(body: Buffer): { tag: SoakTag | undefined; model: string } {
  try {
    const parsed = JSON.parse(body.toString()) as { model?: unknown; metadata?: { user_id?: unknown } };
    return {
      tag: parseTag(parsed.metadata?.user_id),
      model: typeof parsed.model === 'string' ? parsed.model : '',
    };
  } catch {
    return { tag: undefined, model: '' };
  }
}

function approvalProblem(
  req: IncomingMessage,
  upstreamKey: string,
  tag: SoakTag | undefined,
): string | undefined {
  if (tag === undefined) return 'no soak tag in the body';
  if (!reachesUpstream(tag.kind)) return 'the gateway should have answered this itself';
  if (req.headers[UPSTREAM_CREDENTIAL_HEADER] !== upstreamKey) return 'without the injected credential';
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] ?? '').toLowerCase();
    if (name === UPSTREAM_CREDENTIAL_HEADER || FORWARDED_HEADERS.has(name) || TRANSPORT.has(name)) continue;
    return `header ${name} is outside the allowlist`;
  }
  if (req.rawTrailers.length > 0) return 'with request trailers';
  return undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function answer(
  scenario: Scenario,
  req: IncomingMessage,
  res: ServerResponse,
  tag: SoakTag | undefined,
  model: string,
): Promise<void> {
  const seq = tag?.seq ?? 0;
  const send = (status: number, payload: Buffer) => {
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(payload.length),
      'request-id': `req_soak_${seq}`,
    });
    res.end(payload);
  };
  if ((req.url ?? '').startsWith('/v1/messages/count_tokens')) return send(200, countTokensAnswer(seq));
  switch (tag?.kind) {
    case 'sse':
      return stream(res, sseEvents(model, seq, scenario.shortStream.events), scenario.shortStream.intervalMs);
    case 'long_sse':
      return stream(res, sseEvents(model, seq, scenario.longStream.events), scenario.longStream.intervalMs);
    case 'upstream_529':
      return send(
        529,
        Buffer.from(
          JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }),
        ),
      );
    case 'upstream_reset': {
      // Headers and the first events, then the connection is cut mid-stream.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const event of sseEvents(model, seq, 4).slice(0, 3)) res.write(event);
      await sleep(20);
      res.destroy();
      return;
    }
    default:
      return send(200, jsonAnswer(model, seq));
  }
}

async function stream(res: ServerResponse, events: readonly string[], intervalMs: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  for (let i = 0; i < events.length; i += 1) {
    if (res.destroyed) return;
    if (i > 0) await sleep(intervalMs);
    res.write(events[i]);
  }
  res.end();
}
