// Reads usage from an Anthropic SSE stream as its bytes go by, without keeping
// the stream: only the data of `message_start` and `message_delta` events is
// collected and parsed; every other line (text deltas, thinking, tool input)
// is skipped as it is seen. Lines end in LF (a CR before it is dropped), which
// is how the API frames its events.
import { applyUsageReport, emptyUsage, type Usage } from './usage.ts';

const LF = 0x0a;
/** Longer event data is not a usage event we can trust; it is dropped. */
const MAX_EVENT_DATA_BYTES = 256 * 1024;

type LineKind = 'undecided' | 'event' | 'data' | 'skip';

const EVENT_PREFIX = Buffer.from('event:');
const DATA_PREFIX = Buffer.from('data:');
const USAGE_EVENTS: ReadonlySet<string> = new Set(['message_start', 'message_delta']);

export class SseUsageReader {
  readonly usage: Usage = emptyUsage();
  /** True once message_stop went by: the upstream finished the message. */
  stopped = false;

  private line: Buffer[] = [];
  private lineBytes = 0;
  private lineKind: LineKind = 'undecided';
  private event: string | undefined;
  private data: Buffer[] = [];
  private dataBytes = 0;
  private dataOverflow = false;

  /** Feeds the next bytes of the stream; returns whether the usage changed. */
  feed(chunk: Buffer): boolean {
    let changed = false;
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf(LF, start);
      const stop = end === -1 ? chunk.length : end;
      this.take(chunk, start, stop);
      if (end === -1) break;
      if (this.endLine()) changed = true;
      start = end + 1;
    }
    return changed;
  }

  /** Appends part of a line, keeping bytes only while the line may matter. */
  private take(chunk: Buffer, start: number, stop: number): void {
    if (this.lineKind === 'skip' || start === stop) return;
    // The common case: the line's start is in this chunk, long enough to tell
    // its kind without copying (a text delta's line is then never kept).
    if (this.lineBytes === 0 && stop - start >= EVENT_PREFIX.length) {
      if (prefixAt(chunk, start, EVENT_PREFIX)) this.lineKind = 'event';
      else if (prefixAt(chunk, start, DATA_PREFIX) && this.wantsData()) this.lineKind = 'data';
      else {
        this.lineKind = 'skip';
        this.lineBytes = stop - start;
        return;
      }
    }
    this.line.push(chunk.subarray(start, stop));
    this.lineBytes += stop - start;
    if (this.lineKind === 'undecided') this.classify();
    if (this.lineKind === 'data' && this.lineBytes > MAX_EVENT_DATA_BYTES) {
      this.dataOverflow = true;
      this.lineKind = 'skip';
      this.line = [];
    }
  }

  private classify(): void {
    if (this.lineBytes < EVENT_PREFIX.length && this.lineBytes < DATA_PREFIX.length) {
      // Too short to tell, unless it already cannot be either prefix.
      const head = Buffer.concat(this.line);
      if (!startsWithPart(EVENT_PREFIX, head) && !startsWithPart(DATA_PREFIX, head)) this.lineKind = 'skip';
      return;
    }
    const head = Buffer.concat(this.line);
    this.line = [head];
    if (startsWith(head, EVENT_PREFIX)) this.lineKind = 'event';
    else if (startsWith(head, DATA_PREFIX) && this.wantsData()) this.lineKind = 'data';
    else if (startsWith(head, DATA_PREFIX) || !startsWithPart(EVENT_PREFIX, head)) this.lineKind = 'skip';
  }

  /** Data matters for usage events, and for events that did not name themselves. */
  private wantsData(): boolean {
    return this.event === undefined || USAGE_EVENTS.has(this.event);
  }

  private endLine(): boolean {
    const kind = this.lineKind;
    const line = kind === 'event' || kind === 'data' ? stripCr(joined(this.line)) : undefined;
    const empty = this.lineBytes === 0 || (this.lineBytes === 1 && this.line[0]?.[0] === 0x0d);
    this.line = [];
    this.lineBytes = 0;
    this.lineKind = 'undecided';
    if (empty) return this.dispatch();
    if (kind === 'event' && line !== undefined) {
      this.event = line.subarray(EVENT_PREFIX.length).toString('utf8').trim();
    } else if (kind === 'data' && line !== undefined) {
      let value = line.subarray(DATA_PREFIX.length);
      if (value[0] === 0x20) value = value.subarray(1);
      if (this.dataBytes + value.length > MAX_EVENT_DATA_BYTES) this.dataOverflow = true;
      else {
        if (this.data.length > 0) this.data.push(Buffer.from('\n'));
        this.data.push(value);
        this.dataBytes += value.length;
      }
    }
    return false;
  }

  /** An empty line ends an event. */
  private dispatch(): boolean {
    const event = this.event;
    const data = this.data;
    const overflow = this.dataOverflow;
    this.event = undefined;
    this.data = [];
    this.dataBytes = 0;
    this.dataOverflow = false;
    if (event === 'message_stop') this.stopped = true;
    if (overflow || data.length === 0) return false;
    if (event !== undefined && !USAGE_EVENTS.has(event)) return false;
    let parsed: unknown;
    try {
      parsed = JSON.parse(joined(data).toString('utf8'));
    } catch {
      return false;
    }
    if (parsed === null || typeof parsed !== 'object') return false;
    const message = parsed as { type?: unknown; message?: { usage?: unknown }; usage?: unknown };
    const type = event ?? message.type;
    if (type === 'message_start') return applyUsageReport(this.usage, message.message?.usage);
    if (type === 'message_delta') return applyUsageReport(this.usage, message.usage);
    if (type === 'message_stop') this.stopped = true;
    return false;
  }
}

/** The parts as one buffer; a single part is not copied. */
function joined(parts: Buffer[]): Buffer {
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

function prefixAt(chunk: Buffer, start: number, prefix: Buffer): boolean {
  return chunk.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0;
}

function startsWith(buffer: Buffer, prefix: Buffer): boolean {
  return buffer.length >= prefix.length && buffer.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/** Whether `head` (shorter than `prefix`, or not) agrees with `prefix` so far. */
function startsWithPart(prefix: Buffer, head: Buffer): boolean {
  const n = Math.min(prefix.length, head.length);
  return head.compare(prefix, 0, n, 0, n) === 0;
}

function stripCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line;
}
