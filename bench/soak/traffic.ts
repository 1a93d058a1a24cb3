// The soak's clients: requests of every kind at a steady rate (open loop), each
// checked against what its kind must get: the exact bytes for a completed
// answer, an Anthropic-shaped body for every error.
import {
  expectedAnswer,
  rotation,
  type Scenario,
  type SoakKind,
  type SoakTag,
  sha256,
  tagOf,
} from './scenario.ts';

export const SOAK_MODEL = 'claude-sonnet-4-6';

export interface TrafficOptions {
  readonly baseUrl: string;
  readonly token: string;
  readonly scenario: Scenario;
  readonly ratePerSecond: number;
  /** At most this many long streams open at once; further ones are sent as short streams. */
  readonly maxLongStreams: number;
}

export interface TrafficReport {
  /** `kind status` (status, or `cut` for a response that broke off) → count. */
  readonly outcomes: Record<string, number>;
  readonly sent: number;
  /** Responses that arrived whole (any status), the ones an access line is owed for. */
  readonly completed: number;
  /** Completed 2xx answers whose bytes were compared, and how many differed. */
  readonly compared: number;
  readonly corrupt: string[];
  /** Error answers that were not Anthropic-shaped (status, first bytes). */
  readonly malformed: string[];
  /** Answers of a status their kind must never get (a refusal answered 200, say). */
  readonly unexpected: string[];
}

export interface Traffic {
  /** Stops sending and waits for what is in flight. */
  stop(): Promise<TrafficReport>;
  readonly sentSoFar: () => number;
}

/** The statuses each kind may get besides the gateway failing closed (503) while a fault lasts. */
const EXPECTED: Record<SoakKind, readonly number[]> = {
  json: [200],
  sse: [200],
  long_sse: [200],
  count_tokens: [200],
  models: [200],
  large: [200],
  unknown_model: [400],
  bad_token: [401],
  upstream_529: [529],
  // Only ever cut: the upstream breaks it off mid-stream.
  upstream_reset: [],
};

export function startTraffic(options: TrafficOptions): Traffic {
  const kinds = rotation();
  const outcomes: Record<string, number> = {};
  const corrupt: string[] = [];
  const malformed: string[] = [];
  const unexpected: string[] = [];
  let sent = 0;
  let completed = 0;
  let compared = 0;
  let longOpen = 0;
  const inFlight = new Set<Promise<void>>();
  const count = (key: string) => {
    outcomes[key] = (outcomes[key] ?? 0) + 1;
  };

  const fire = () => {
    let kind = kinds[sent % kinds.length] as SoakKind;
    if (kind === 'long_sse' && longOpen >= options.maxLongStreams) kind = 'sse';
    const tag: SoakTag = { kind, seq: sent };
    sent += 1;
    if (kind === 'long_sse') longOpen += 1;
    const done = exchange(options, tag)
      .then((result) => {
        count(`${kind} ${result.status}`);
        if (result.status === 'cut') {
          if (kind !== 'upstream_reset') unexpected.push(`${kind} #${tag.seq}: cut`);
          return;
        }
        completed += 1;
        const allowed = EXPECTED[kind].includes(result.status) || result.status === 503;
        if (!allowed) unexpected.push(`${kind} #${tag.seq}: ${result.status}`);
        if (result.status >= 400) {
          if (!isAnthropicError(result.body, result.requestId)) {
            malformed.push(
              `${kind} #${tag.seq}: ${result.status} ${result.body.subarray(0, 120).toString()}`,
            );
          }
          return;
        }
        const expected = expectedAnswer(options.scenario, SOAK_MODEL, tag);
        if (expected === undefined || result.status !== 200) return;
        compared += 1;
        if (sha256(result.body) !== sha256(expected)) corrupt.push(`${kind} #${tag.seq}`);
      })
      .finally(() => {
        if (kind === 'long_sse') longOpen -= 1;
        inFlight.delete(done);
      });
    inFlight.add(done);
  };

  const timer = setInterval(fire, 1000 / options.ratePerSecond);
  return {
    sentSoFar: () => sent,
    stop: async () => {
      clearInterval(timer);
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      return { outcomes, sent, completed, compared, corrupt, malformed, unexpected };
    },
  };
}

interface Result {
  readonly status: number | 'cut';
  readonly body: Buffer;
  readonly requestId: string | null;
}

async function exchange(options: TrafficOptions, tag: SoakTag): Promise<Result> {
  const { baseUrl, token, scenario } = options;
  const longest = scenario.longStream.events * scenario.longStream.intervalMs;
  const signal = AbortSignal.timeout(longest + 60_000);
  const headers = {
    'x-api-key': tag.kind === 'bad_token' ? `${token}-wrong` : token,
    'content-type': 'application/json',
    'anthropic-version': '2023-06-01',
  };
  const body = (extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      model: tag.kind === 'unknown_model' ? 'claude-not-a-model' : SOAK_MODEL,
      max_tokens: 64,
      messages: [
        { role: 'user', content: tag.kind === 'large' ? 'a'.repeat(scenario.largeBodyBytes) : 'hi' },
      ],
      metadata: { user_id: tagOf(tag.kind, tag.seq) },
      ...extra,
    });
  try {
    const response =
      tag.kind === 'models'
        ? await fetch(`${baseUrl}/v1/models`, { headers, signal })
        : await fetch(`${baseUrl}/v1/messages${tag.kind === 'count_tokens' ? '/count_tokens' : ''}`, {
            method: 'POST',
            headers,
            body: body(tag.kind.endsWith('sse') || tag.kind === 'upstream_reset' ? { stream: true } : {}),
            signal,
          });
    // A stream the upstream cut reaches the client as a body that breaks off (caught below).
    const bytes = Buffer.from(await response.arrayBuffer());
    return { status: response.status, body: bytes, requestId: response.headers.get('request-id') };
  } catch {
    return { status: 'cut', body: Buffer.alloc(0), requestId: null };
  }
}

function isAnthropicError(body: Buffer, requestId: string | null): boolean {
  if (requestId === null || requestId === '') return false;
  try {
    const parsed = JSON.parse(body.toString()) as {
      type?: unknown;
      error?: { type?: unknown; message?: unknown };
    };
    return (
      parsed.type === 'error' &&
      typeof parsed.error?.type === 'string' &&
      typeof parsed.error.message === 'string' &&
      parsed.error.message !== ''
    );
  } catch {
    return false;
  }
}
