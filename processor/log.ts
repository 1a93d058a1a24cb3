// The processor's logger. Secrets never reach it by design: the policy returns
// token ids, not tokens, and no code logs headers, bodies or keys. Redaction is
// the second line, for the day an object carrying one is logged anyway. It works
// on each finished line, so it sees everything pino writes (fields, child
// bindings at any depth, serialized errors, the message):
//   1. by name, at any depth: a field called like a credential (authorization,
//      x-api-key, token, upstreamApiKey, cookie, headers, ...) is censored;
//   2. by value: anything shaped like a credential (a Bearer or Basic value, an
//      Anthropic key, a gateway token) and every secret the process was given
//      (the workspaces' keys) is censored, so a secret inside an error message
//      or a stack trace is caught too.
// A line is parsed again only when it names a secret field (a cheap scan
// first); the value patterns are one regular expression pass. The access line
// written for every request costs a few microseconds more (docs/security.md).
import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';

export const CENSOR = '[redacted]';

/** Field names (compared lower-case) whose values are never written, at any depth. */
export const SECRET_FIELDS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'api-key',
  'api_key',
  'apikey',
  'token',
  'upstreamapikey',
  'upstream_api_key',
  'password',
  'secret',
  'cookie',
  'set-cookie',
  'headers',
  'rawheaders',
]);

/** Deeper than this, a logged value is replaced by a marker rather than walked. */
const MAX_DEPTH = 32;

/**
 * Credential shapes, matched in the finished JSON line (case-insensitively):
 * an auth scheme and its value, an Anthropic key, a gateway token
 * (processor/policy/tokens.ts).
 */
const SECRET_PATTERNS: readonly RegExp[] = [
  /\b(?:bearer|basic)(?:\s|\\[tn])+[^\s"\\]+/,
  /\bsk-ant-[A-Za-z0-9_-]+/,
  /\bagw_[A-Za-z0-9_-]+/,
];

export interface LoggerOptions {
  /** Exact secret values this process holds (e.g. the workspaces' upstream keys), censored wherever they appear. */
  readonly secrets?: Iterable<string>;
}

export function createLogger(
  level: LevelWithSilent,
  destination?: DestinationStream,
  options: LoggerOptions = {},
): Logger {
  const pinoOptions = {
    level,
    base: { service: 'anthropic-gateway-processor' },
    hooks: { streamWrite: lineScrubber(options.secrets ?? []) },
  };
  return pino(pinoOptions, destination ?? asyncStdout());
}

/**
 * Standard output, written asynchronously and in batches. pino's default
 * writes each line with a blocking write(2): one system call per request on
 * the hot path (the access line), and a stalled reader of the pipe stalls
 * every request. Here lines are queued and written once 4 KiB have gathered
 * or 100 ms have passed, whichever comes first (Envoy's own access log
 * flushes every second). pino flushes what is queued when the process exits.
 */
export const LOG_FLUSH_INTERVAL_MS = 100;
function asyncStdout(): DestinationStream {
  return pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: LOG_FLUSH_INTERVAL_MS });
}

/** A copy of parsed JSON `value` with every secret-named field censored, depth bounded. */
export function censorFields(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (Array.isArray(value)) return value.map((item) => censorFields(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    out[key] = SECRET_FIELDS.has(key.toLowerCase()) ? CENSOR : censorFields(field, depth + 1);
  }
  return out;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether a line names a secret field anywhere (a cheap scan before parsing it). */
const SECRET_FIELD_IN_LINE = new RegExp(`"(${[...SECRET_FIELDS].map(escapeRegExp).join('|')})"\\s*:`, 'i');

function lineScrubber(secrets: Iterable<string>): (line: string) => string {
  // A secret appears in the line JSON-escaped; short values are skipped, they
  // would censor ordinary words (configuration demands real keys anyway).
  const exact = [...secrets]
    .filter((secret) => secret.length >= 8)
    .map((secret) => escapeRegExp(JSON.stringify(secret).slice(1, -1)));
  // One pass for every value: the credential shapes and the exact secrets.
  const values = new RegExp([...SECRET_PATTERNS.map((pattern) => pattern.source), ...exact].join('|'), 'gi');
  return (line) => {
    let out = line;
    if (SECRET_FIELD_IN_LINE.test(line)) {
      try {
        out = `${JSON.stringify(censorFields(JSON.parse(line)))}\n`;
      } catch {
        // Not JSON (pino writes only JSON): the value patterns below still apply.
      }
    }
    return out.replace(values, CENSOR);
  };
}

export type { Logger };

/**
 * Writes out what the logger has queued, asynchronously, before the process
 * exits: true once written, false if the write failed or never ended. At
 * exit pino flushes synchronously, and sonic-boom (4.2) retries a
 * synchronous write that fails for any reason, EPIPE included, forever: a
 * processor whose reader is gone (its launcher was killed) would never exit.
 * An asynchronous write that fails with EPIPE makes pino stop writing instead.
 */
export function flushLog(log: Logger): Promise<boolean> {
  // A destination whose reader is gone may never call back: wait a few seconds at most.
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 3_000);
    timer.unref();
    log.flush((error) => {
      clearTimeout(timer);
      // sonic-boom ends a flush with fsync, which a pipe refuses (EINVAL)
      // once the bytes are written: that is a flush done.
      resolve(error === undefined || error === null || (error as NodeJS.ErrnoException).code === 'EINVAL');
    });
  });
}

/**
 * The log's reader is gone (the launcher died, so its end of the pipe is
 * closed): drop what is still buffered rather than write it. Without this,
 * the flush pino makes as the process exits retries the failing write for
 * ever (EPIPE), and an orphaned processor never exits. pino does the same to
 * its destination once it sees EPIPE; this covers the exit that comes first.
 */
export function abandonLog(log: Logger): void {
  const destination = (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    | { flushSync?: () => void; write?: (chunk: string) => boolean }
    | undefined;
  if (destination === undefined) return;
  destination.flushSync = () => {};
  destination.write = () => true;
}
