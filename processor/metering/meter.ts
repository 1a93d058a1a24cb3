// What one response consumed, read from its body as it streams past: the
// `usage` of a JSON message, the usage events of an SSE stream, or the
// `input_tokens` a count_tokens call answered. Messages and count_tokens are
// kept apart: counting tokens consumes none.
import type { UpstreamRoute } from '../policy/routes.ts';
import { TopLevelFieldReader } from './json-fields.ts';
import { SseUsageReader } from './sse-usage.ts';
import { applyUsageReport, emptyUsage, type Usage } from './usage.ts';

export interface UsageMeter {
  /** Feeds the next body bytes; returns whether the usage changed. */
  feed(chunk: Buffer): boolean;
  /** Messages: the usage so far (undefined if none was reported). */
  readonly usage: Usage | undefined;
  /** count_tokens: the input tokens the upstream counted (undefined if none). */
  readonly countedInputTokens: number | undefined;
}

const NOTHING: UsageMeter = {
  feed: () => false,
  usage: undefined,
  countedInputTokens: undefined,
};

export function isEventStream(contentType: string | undefined): boolean {
  return contentType?.trimStart().toLowerCase().startsWith('text/event-stream') === true;
}

/** A meter for one response; a response that is not a success carries no usage. */
export function createUsageMeter(
  route: UpstreamRoute | undefined,
  status: number,
  contentType: string | undefined,
): UsageMeter {
  if (route === undefined || status < 200 || status > 299) return NOTHING;
  if (route === 'count_tokens') return countTokensMeter();
  return isEventStream(contentType) ? sseMeter() : jsonMessageMeter();
}

function sseMeter(): UsageMeter {
  const reader = new SseUsageReader();
  let reported = false;
  return {
    feed: (chunk) => {
      const changed = reader.feed(chunk);
      if (changed) reported = true;
      return changed;
    },
    get usage() {
      return reported ? reader.usage : undefined;
    },
    countedInputTokens: undefined,
  };
}

function jsonMessageMeter(): UsageMeter {
  let usage: Usage | undefined;
  let changed = false;
  const reader = new TopLevelFieldReader({
    usage: (value) => {
      const next = emptyUsage();
      if (applyUsageReport(next, value)) {
        usage = next;
        changed = true;
      }
    },
  });
  return {
    feed: (chunk) => {
      changed = false;
      reader.feed(chunk);
      return changed;
    },
    get usage() {
      return usage;
    },
    countedInputTokens: undefined,
  };
}

function countTokensMeter(): UsageMeter {
  let counted: number | undefined;
  const reader = new TopLevelFieldReader({
    input_tokens: (value) => {
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0) counted = Math.trunc(value);
    },
  });
  return {
    feed: (chunk) => {
      reader.feed(chunk);
      return false;
    },
    usage: undefined,
    get countedInputTokens() {
      return counted;
    },
  };
}
