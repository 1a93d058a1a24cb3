// Finds chosen top-level fields of a JSON object as its bytes go by, without
// keeping the document: one pass that tracks nesting and strings, remembers
// each top-level key (keys are short) and keeps only the bytes of the values
// asked for, which are then parsed on their own. The response body of a
// message can be large; its `usage` object is a few dozen bytes.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** A top-level key longer than this is none of ours. */
const MAX_KEY_BYTES = 64;
const MAX_VALUE_BYTES = 64 * 1024;

export class TopLevelFieldReader {
  private readonly wanted: ReadonlyMap<string, (value: unknown) => void>;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** At depth 1: reading a key (until its colon) or a value (until `,` or `}`). */
  private inKey = false;
  private key: number[] = [];
  private capture: ((value: unknown) => void) | undefined;
  private captured: Buffer[] = [];
  private capturedBytes = 0;
  /** Set once the document is plainly not an object we can read. */
  private failed = false;

  constructor(fields: Readonly<Record<string, (value: unknown) => void>>) {
    this.wanted = new Map(Object.entries(fields));
  }

  feed(chunk: Buffer): void {
    if (this.failed) return;
    // Where the part of the current value in this chunk starts, if capturing.
    let captureFrom = this.capture === undefined ? -1 : 0;
    let nextBackslash = -1;
    for (let i = 0; i < chunk.length; i += 1) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          if (this.inTopLevelKey()) this.keyByte(chunk[i] as number);
          continue;
        }
        if (this.inTopLevelKey()) {
          const byte = chunk[i] as number;
          this.keyByte(byte);
          if (byte === BACKSLASH) this.escaped = true;
          else if (byte === QUOTE) this.inString = false;
          continue;
        }
        // Inside a value's string (most of a message's bytes): jump to its
        // end or its next escape with indexOf instead of byte by byte.
        const quote = chunk.indexOf(QUOTE, i);
        if (nextBackslash < i && nextBackslash !== -2) {
          nextBackslash = chunk.indexOf(BACKSLASH, i);
          if (nextBackslash === -1) nextBackslash = -2; // none left in this chunk
        }
        if (nextBackslash >= 0 && (quote === -1 || nextBackslash < quote)) {
          i = nextBackslash;
          this.escaped = true;
          continue;
        }
        if (quote === -1) break;
        i = quote;
        this.inString = false;
        continue;
      }
      const byte = chunk[i] as number;
      switch (byte) {
        case QUOTE:
          this.inString = true;
          if (this.inKey && this.depth === 1) this.key.length = 0;
          break;
        case OPEN_OBJECT:
        case OPEN_ARRAY:
          if (this.depth === 0 && byte !== OPEN_OBJECT) {
            this.failed = true;
            return;
          }
          this.depth += 1;
          if (this.depth === 1) this.inKey = true;
          break;
        case CLOSE_OBJECT:
        case CLOSE_ARRAY:
          if (this.depth === 1) {
            this.endValue(chunk, captureFrom, i);
            captureFrom = -1;
          }
          this.depth -= 1;
          break;
        case COLON:
          if (this.depth === 1 && this.inKey) {
            this.inKey = false;
            this.capture = this.wantedValue();
            captureFrom = this.capture === undefined ? -1 : i + 1;
          }
          break;
        case COMMA:
          if (this.depth === 1) {
            this.endValue(chunk, captureFrom, i);
            captureFrom = -1;
            this.inKey = true;
          }
          break;
        default:
          break;
      }
    }
    if (captureFrom !== -1) this.keep(chunk.subarray(captureFrom));
  }

  private inTopLevelKey(): boolean {
    return this.inKey && this.depth === 1;
  }

  private keyByte(byte: number): void {
    if (this.key.length <= MAX_KEY_BYTES) this.key.push(byte);
  }

  private wantedValue(): ((value: unknown) => void) | undefined {
    // The key bytes include its closing quote.
    if (this.key.length === 0 || this.key.length > MAX_KEY_BYTES) return undefined;
    const name = Buffer.from(this.key.slice(0, -1)).toString('utf8');
    return this.wanted.get(name);
  }

  private keep(part: Buffer): void {
    if (this.capture === undefined) return;
    if (this.capturedBytes + part.length > MAX_VALUE_BYTES) {
      this.capture = undefined;
      this.captured = [];
      this.capturedBytes = 0;
      return;
    }
    // Copied: the chunk belongs to the gRPC message and is not ours to hold.
    this.captured.push(Buffer.from(part));
    this.capturedBytes += part.length;
  }

  private endValue(chunk: Buffer, captureFrom: number, end: number): void {
    const deliver = this.capture;
    if (deliver === undefined) return;
    if (captureFrom !== -1) this.keep(chunk.subarray(captureFrom, end));
    const bytes = Buffer.concat(this.captured);
    this.capture = undefined;
    this.captured = [];
    this.capturedBytes = 0;
    try {
      deliver(JSON.parse(bytes.toString('utf8')));
    } catch {
      // Not JSON: the upstream's body is not what we expected; report nothing.
    }
  }
}
