// What the soak sends and what the fake upstream answers, as plain values both
// sides compute from the same request: the client knows, without asking the
// upstream, which bytes a completed response must have had. The kind travels
// in the request body (`metadata.user_id`), which the gateway forwards byte for
// byte; headers would be stripped by the allowlist.
import { createHash } from 'node:crypto';

export type SoakKind =
  | 'json'
  | 'sse'
  | 'long_sse'
  | 'count_tokens'
  | 'models'
  | 'large'
  | 'unknown_model'
  | 'bad_token'
  | 'upstream_529'
  | 'upstream_reset';

/** How often each kind is sent, per 100 requests (a fixed, interleaved rotation). */
export const MIX: ReadonlyArray<readonly [SoakKind, number]> = [
  ['json', 34],
  ['sse', 16],
  ['long_sse', 2],
  ['count_tokens', 12],
  ['models', 10],
  ['large', 4],
  ['unknown_model', 8],
  ['bad_token', 6],
  ['upstream_529', 4],
  ['upstream_reset', 4],
];

/** A rotation of 100 kinds with each kind spread out rather than in runs. */
export function rotation(): SoakKind[] {
  const slots: Array<{ kind: SoakKind; at: number }> = [];
  for (const [kind, count] of MIX) {
    for (let i = 0; i < count; i += 1) slots.push({ kind, at: (i + 0.5) / count });
  }
  return slots.sort((a, b) => a.at - b.at).map((slot) => slot.kind);
}

/** The kinds the upstream must see (the others are answered or refused by the gateway). */
export function reachesUpstream(kind: SoakKind): boolean {
  return kind !== 'models' && kind !== 'unknown_model' && kind !== 'bad_token';
}

export interface SoakTag {
  readonly kind: SoakKind;
  readonly seq: number;
}

const TAG_PREFIX = 'soak:';

export function tagOf(kind: SoakKind, seq: number): string {
  return `${TAG_PREFIX}${kind}:${seq}`;
}

export function parseTag(value: unknown): SoakTag | undefined {
  if (typeof value !== 'string' || !value.startsWith(TAG_PREFIX)) return undefined;
  const [kind, seq] = value.slice(TAG_PREFIX.length).split(':');
  if (kind === undefined || seq === undefined) return undefined;
  return { kind: kind as SoakKind, seq: Number(seq) };
}

export interface StreamShape {
  readonly events: number;
  readonly intervalMs: number;
}

export interface Scenario {
  /** How long a long_sse stream lasts (minutes in the full soak). */
  readonly longStream: StreamShape;
  readonly shortStream: StreamShape;
  /** Bytes of prompt text in a `large` request. */
  readonly largeBodyBytes: number;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The JSON answer to a `json` or `large` request: deterministic for its seq. */
export function jsonAnswer(model: string, seq: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: `msg_soak_${seq}`,
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text: `answer ${seq}` }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 10 + (seq % 7), output_tokens: 5 + (seq % 3) },
    }),
  );
}

export function countTokensAnswer(seq: number): Buffer {
  return Buffer.from(JSON.stringify({ input_tokens: 20 + (seq % 11) }));
}

/** The SSE events of a streamed answer, one string each, as the upstream writes them. */
export function sseEvents(model: string, seq: number, count: number): string[] {
  const event = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  const usage = { input_tokens: 10 + (seq % 7), output_tokens: 1, cache_read_input_tokens: seq % 5 };
  const events = [
    event('message_start', {
      type: 'message_start',
      message: {
        id: `msg_soak_${seq}`,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage,
      },
    }),
    event('content_block_start', {
      type: 'content_block_start',
      index: 0,
      content_block: { type: 'text', text: '' },
    }),
  ];
  for (let i = 0; i < count; i += 1) {
    events.push(
      event('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: `piece ${i} of ${seq} ` },
      }),
    );
  }
  events.push(
    event('content_block_stop', { type: 'content_block_stop', index: 0 }),
    event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: count },
    }),
    event('message_stop', { type: 'message_stop' }),
  );
  return events;
}

/** What the client must receive, byte for byte, for a completed answer of this kind. */
export function expectedAnswer(scenario: Scenario, model: string, tag: SoakTag): Buffer | undefined {
  switch (tag.kind) {
    case 'json':
    case 'large':
      return jsonAnswer(model, tag.seq);
    case 'count_tokens':
      return countTokensAnswer(tag.seq);
    case 'sse':
      return Buffer.from(sseEvents(model, tag.seq, scenario.shortStream.events).join(''));
    case 'long_sse':
      return Buffer.from(sseEvents(model, tag.seq, scenario.longStream.events).join(''));
    default:
      return undefined;
  }
}
