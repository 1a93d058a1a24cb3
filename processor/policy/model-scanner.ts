// Finds the top-level "model" of a JSON request body without parsing it into
// objects or copying it. The scanner validates the whole document as JSON
// (RFC 8259, as strict as JSON.parse) so the gateway never decides on a value
// that the upstream would read differently: if JSON.parse would fail, so does
// the scan; if the body names "model" twice at the top level, we refuse rather
// than guess which one the upstream takes.
//
// What a body can make it cost is bounded by the body's size, whatever its
// shape: it is iterative, so deep nesting cannot overflow the stack, and keeps
// one bit per nesting level (an eighth of a byte); it builds no string but the
// model's, once, at the end, and not even that past `maxModelBytes`. It can
// also stop and go on later (startModelScan), so that a big body can be
// scanned a slice at a time between other work: a 32 MB body of `[0,0,0,…`
// costs several times the CPU of 32 MB of prose, which the string scan reads
// four bytes a step (docs/security.md, "Hostile body shapes").
import { isUtf8 } from 'node:buffer';

export type ScanProblem =
  | 'empty'
  | 'invalid_utf8'
  | 'invalid_json'
  | 'not_an_object'
  | 'missing_model'
  | 'model_not_a_string'
  | 'duplicate_model'
  /** A string model written longer than `maxModelBytes`: not decoded. */
  | 'model_too_long';

export type ModelScan =
  | { readonly ok: true; readonly model: string }
  | { readonly ok: false; readonly problem: ScanProblem };

export interface ScanOptions {
  /**
   * The most bytes a string model may take as written (between its quotes)
   * to be decoded; a longer one is `model_too_long`. Decoding a 32 MB model
   * builds a string of up to twice that; a model looked up in a catalog
   * cannot be longer than its longest id written with an escape per
   * character (catalog.ts, longestModelSpelling). Unlimited by default.
   */
  readonly maxModelBytes?: number;
}

/** A scan that goes on a slice at a time (startModelScan). */
export interface ModelScanner {
  /**
   * Scans on, to the first point past `bytes` more bytes where it can stop
   * (between two values, inside a number, or at an escape in a string: plain
   * text and runs of whitespace are read whole, at full speed); returns the
   * verdict once the body is scanned, undefined while there is more.
   */
  advance(bytes: number): ModelScan | undefined;
  /** The size of the nesting state (bytes): at most a quarter of the deepest nesting seen, or 256. */
  readonly nestingBytes: number;
}

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const QUOTE = 0x22;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const LBRACKET = 0x5b;
const BACKSLASH = 0x5c;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

/** Returned by the skip functions when the input is not valid JSON. */
const INVALID = -1;
/** Returned by skipValue when it stopped at its limit inside a value. */
const SUSPENDED = -2;

const fail = (problem: ScanProblem): ModelScan => ({ ok: false, problem });

/**
 * One nesting state for every whole-body scan: they run one at a time, so an
 * ordinary body allocates none. A deeper body grows its own copy.
 */
const SHARED_NESTING = new Uint32Array(64); // 2,048 levels, 256 bytes

/** Scans the whole body at once. */
export function scanModel(body: Buffer, options?: ScanOptions): ModelScan {
  return new Scanner(body, options, SHARED_NESTING).advance(Number.POSITIVE_INFINITY) as ModelScan;
}

/** A scan to be driven a slice at a time with `advance`. */
export function startModelScan(body: Buffer, options?: ScanOptions): ModelScanner {
  return new Scanner(body, options, new Uint32Array(SHARED_NESTING.length));
}

// Where the top-level scan stands.
/** Nothing read yet. */
const START = 0;
/** Inside a top-level value that is not an object (the verdict is then not_an_object or invalid_json). */
const TOP_VALUE = 1;
/** At a top-level member's name. */
const MEMBER = 2;
/** Inside a top-level member's value. */
const MEMBER_VALUE = 3;

class Scanner implements ModelScanner {
  private readonly body: Buffer;
  private readonly maxModelBytes: number;
  private verdict: ModelScan | undefined;
  private phase = START;

  // Of the top-level member being read.
  private isModel = false;
  private valueStart = 0;
  // Of the top-level "model": its string token, or why there is none to use.
  private modelStart = -1;
  private modelEnd = -1;
  private modelSeen = false;
  private notAString = false;
  private duplicate = false;

  // Where the scan goes on, and skipValue's state when it stopped inside a value (see there).
  i = 0;
  stack: Uint32Array;
  depth = 0;
  inObject = false;
  afterValue = false;
  /** Stopped inside a string: a top-level member's name, or one skipValue was reading. */
  inString = false;
  /** What the string skipValue stopped in is: a value, or a member's name. */
  stringIsName = false;
  /** Stopped inside a number: in the digits of which of its parts (skipNumber), else 0. */
  numberPart = 0;
  /** Where the top-level member's name began (its quote). */
  private keyStart = 0;

  constructor(body: Buffer, options: ScanOptions | undefined, stack: Uint32Array) {
    this.body = body;
    this.maxModelBytes = options?.maxModelBytes ?? Number.POSITIVE_INFINITY;
    this.stack = stack;
  }

  get nestingBytes(): number {
    return this.stack.byteLength;
  }

  advance(bytes: number): ModelScan | undefined {
    if (this.verdict !== undefined) return this.verdict;
    const b = this.body;
    const end = b.length;
    // skipValue stops at `limit` or after; end + 1 is never reached.
    const limit = bytes >= end - this.i ? end + 1 : this.i + bytes;
    let i = this.i;
    if (this.phase === START) {
      i = skipWhitespace(b, 0);
      if (i === end) return this.settle(fail('empty'));
      // JSON text is UTF-8 (RFC 8259 §8.1); validated once, natively, so the
      // string scanner below only has to look at ASCII structure.
      if (!isUtf8(b)) return this.settle(fail('invalid_utf8'));
      if (b[i] !== LBRACE) {
        this.phase = TOP_VALUE;
      } else {
        i = skipWhitespace(b, i + 1);
        if (b[i] === RBRACE) return this.settle(this.decide(i + 1));
        this.phase = MEMBER;
      }
    }
    if (this.phase === TOP_VALUE) {
      const after = skipValue(this, b, i, limit);
      if (after === SUSPENDED) return undefined;
      if (after === INVALID || skipWhitespace(b, after) !== end) return this.settle(fail('invalid_json'));
      return this.settle(fail('not_an_object'));
    }
    for (;;) {
      if (this.phase === MEMBER) {
        if (!this.inString) {
          if (i >= limit) {
            this.i = i;
            return undefined;
          }
          if (b[i] !== QUOTE) return this.settle(fail('invalid_json'));
          this.keyStart = i;
          i += 1;
        }
        const keyEnd = skipStringFrom(b, i, limit, this);
        this.inString = keyEnd === SUSPENDED;
        if (this.inString) return undefined;
        if (keyEnd === INVALID) return this.settle(fail('invalid_json'));
        this.isModel = isModelKey(b, this.keyStart, keyEnd);
        i = skipWhitespace(b, keyEnd);
        if (b[i] !== COLON) return this.settle(fail('invalid_json'));
        i = skipWhitespace(b, i + 1);
        this.valueStart = i;
        this.phase = MEMBER_VALUE;
      }
      i = skipValue(this, b, i, limit);
      if (i === SUSPENDED) return undefined;
      if (i === INVALID) return this.settle(fail('invalid_json'));
      if (this.isModel) this.noteModel(this.valueStart, i);
      i = skipWhitespace(b, i);
      const next = b[i];
      if (next === COMMA) {
        i = skipWhitespace(b, i + 1);
        this.phase = MEMBER;
      } else if (next === RBRACE) {
        return this.settle(this.decide(i + 1));
      } else {
        return this.settle(fail('invalid_json'));
      }
    }
  }

  private noteModel(start: number, end: number): void {
    if (this.modelSeen) {
      this.duplicate = true;
      return;
    }
    this.modelSeen = true;
    if (this.body[start] === QUOTE) {
      this.modelStart = start;
      this.modelEnd = end;
    } else {
      this.notAString = true;
    }
  }

  /** The verdict once the top-level object has closed at `i`. */
  private decide(i: number): ModelScan {
    const b = this.body;
    if (skipWhitespace(b, i) !== b.length) return fail('invalid_json');
    if (this.duplicate) return fail('duplicate_model');
    if (this.notAString) return fail('model_not_a_string');
    if (!this.modelSeen) return fail('missing_model');
    if (this.modelEnd - this.modelStart - 2 > this.maxModelBytes) return fail('model_too_long');
    return { ok: true, model: decodeString(b, this.modelStart, this.modelEnd) };
  }

  private settle(verdict: ModelScan): ModelScan {
    this.verdict = verdict;
    return verdict;
  }
}

function skipWhitespace(b: Buffer, i: number): number {
  const end = b.length;
  while (i < end) {
    const c = b[i];
    if (c !== SPACE && c !== LF && c !== CR && c !== TAB) return i;
    i += 1;
  }
  return i;
}

/** "model", the key looked for, as character codes. */
const MODEL_KEY = [0x6d, 0x6f, 0x64, 0x65, 0x6c];

/**
 * Whether the key token `b[start, end)` (quotes included, accepted by
 * skipString) is `"model"`, written plainly or with escapes. Compared as it
 * is decoded, without building a string: a body may hold millions of
 * top-level keys written with escapes, and each stops at its first character
 * that differs, or after five.
 */
function isModelKey(b: Buffer, start: number, end: number): boolean {
  const length = end - start;
  if (length === 7) {
    return (
      b[start + 1] === 0x6d && // m
      b[start + 2] === 0x6f && // o
      b[start + 3] === 0x64 && // d
      b[start + 4] === 0x65 && // e
      b[start + 5] === 0x6c // l
    );
  }
  if (length < 7) return false;
  const last = end - 1; // the closing quote
  let k = start + 1;
  for (const expected of MODEL_KEY) {
    if (k >= last) return false;
    let unit = b[k] as number;
    if (unit === BACKSLASH) {
      // Of the escapes, only \uXXXX can spell a letter.
      if (b[k + 1] !== 0x75) return false;
      unit = hexValue(b, k + 2);
      k += 6;
    } else {
      k += 1;
    }
    if (unit !== expected) return false;
  }
  return k === last;
}

/** The value of the four hex digits at `b[i]`, which skipString has checked. */
function hexValue(b: Buffer, i: number): number {
  let value = 0;
  for (let k = i; k < i + 4; k += 1) {
    const c = b[k] as number;
    value = value * 16 + (c <= NINE ? c - ZERO : (c | 0x20) - 0x61 + 10);
  }
  return value;
}

/** Decodes a JSON string token `b[start, end)` (quotes included) that skipString accepted. */
function decodeString(b: Buffer, start: number, end: number): string {
  if (b.subarray(start, end).indexOf(BACKSLASH) === -1) return b.toString('utf8', start + 1, end - 1);
  return JSON.parse(b.toString('utf8', start, end)) as string;
}

/**
 * The bytes a string scan must stop at: the closing quote, a backslash and
 * raw control characters (1); everything else (0) is plain string content.
 */
const STRING_STOP = new Uint8Array(256);
for (let c = 0; c < SPACE; c += 1) STRING_STOP[c] = 1;
STRING_STOP[QUOTE] = 1;
STRING_STOP[BACKSLASH] = 1;

/** 1 for the bytes of hex digits: looked up, a string can be 32 MB of \uXXXX escapes. */
const HEX_DIGIT = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX_DIGIT[c.charCodeAt(0)] = 1;

/**
 * Skips a string's content from `i` (just after its opening quote, or where
 * an earlier call stopped); returns the index after the closing quote,
 * INVALID, or SUSPENDED at the first escape at or past `limit` (its index in
 * `s.i`). Plain text is read whole, at full speed; 32 MB of short escapes
 * (\n\n\n…) takes several times as long, so a string can stop there.
 */
function skipStringFrom(b: Buffer, i: number, limit: number, s: Scanner): number {
  // Bounded by b.length alone: bounding the four-byte loop by the limit too
  // made plain text measurably slower (bench/scanner.ts measures it).
  const end = b.length;
  const stop = STRING_STOP;
  while (i < end) {
    // Prompts are long runs of plain text: test four bytes per step with one
    // branch (faster than a byte at a time: docs/benchmarks.md, "Changes, each
    // measured"), then look closer.
    while (
      i + 4 <= end &&
      ((stop[b[i] as number] as number) |
        (stop[b[i + 1] as number] as number) |
        (stop[b[i + 2] as number] as number) |
        (stop[b[i + 3] as number] as number)) ===
        0
    ) {
      i += 4;
    }
    if (i >= end) break;
    const c = b[i] as number;
    if (stop[c] === 0) {
      i += 1;
      continue;
    }
    if (c === QUOTE) return i + 1;
    if (c < SPACE) return INVALID; // raw control characters are not allowed in strings
    // A backslash.
    if (i >= limit) {
      s.i = i;
      return SUSPENDED;
    }
    const escaped = b[i + 1];
    if (escaped === 0x75) {
      // \uXXXX
      if (
        ((HEX_DIGIT[b[i + 2] as number] as number) &
          (HEX_DIGIT[b[i + 3] as number] as number) &
          (HEX_DIGIT[b[i + 4] as number] as number) &
          (HEX_DIGIT[b[i + 5] as number] as number)) !==
        1
      )
        return INVALID;
      i += 6;
      continue;
    }
    if (
      escaped === 0x6e || // n
      escaped === QUOTE ||
      escaped === BACKSLASH ||
      escaped === 0x2f || // /
      escaped === 0x62 || // b
      escaped === 0x66 || // f
      escaped === 0x72 || // r
      escaped === 0x74 // t
    ) {
      i += 2;
      continue;
    }
    return INVALID;
  }
  return INVALID;
}

// Where inside a number a scan stopped (Scanner.numberPart): in the digits of
// its integer part, of its fraction or of its exponent; 0 outside numbers.
const INTEGER_DIGITS = 1;
const FRACTION_DIGITS = 2;
const EXPONENT_DIGITS = 3;

/**
 * The index after the digits from `i`, or SUSPENDED on a digit at or past
 * `limit` (`s.i` then holds where, and `s.numberPart` is `part`).
 */
function skipDigits(b: Buffer, i: number, limit: number, s: Scanner, part: number): number {
  const end = b.length;
  // Not Math.min, which the lint prefers: it measured slower in the string scan (bench/scanner.ts).
  // biome-ignore lint/complexity/useMathMinMax: see above
  const top = limit < end ? limit : end;
  while (i < top) {
    const c = b[i] as number;
    if (c < ZERO || c > NINE) return i;
    i += 1;
  }
  if (i < end && isDigit(b[i])) {
    s.i = i;
    s.numberPart = part;
    return SUSPENDED;
  }
  return i;
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= ZERO && c <= NINE;

/**
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? from its first byte; returns
 * the index after it, INVALID, or SUSPENDED in its digits (resumeNumber goes
 * on): a number can be 32 MB of digits, and its loop is the one that has run
 * least in a processor (its one long run went at Maglev's pace, well behind
 * prose; bench/scanner.ts measures it). Kept small, so that it is inlined
 * where it is hot.
 */
function skipNumber(b: Buffer, i: number, limit: number, s: Scanner): number {
  if (b[i] === MINUS) i += 1;
  const first = b[i];
  if (first === ZERO) {
    i += 1;
  } else if (first !== undefined && first > ZERO && first <= NINE) {
    i = skipDigits(b, i + 1, limit, s, INTEGER_DIGITS);
    if (i < 0) return i;
  } else {
    return INVALID;
  }
  // Most numbers end here.
  const c = b[i];
  if (c !== DOT && c !== LOWER_E && c !== UPPER_E) return i;
  return afterInteger(b, i, limit, s);
}

/** Goes on with a number that stopped in the digits of `part`. */
function resumeNumber(b: Buffer, i: number, limit: number, s: Scanner, part: number): number {
  i = skipDigits(b, i, limit, s, part);
  if (i < 0 || part === EXPONENT_DIGITS) return i;
  return part === INTEGER_DIGITS ? afterInteger(b, i, limit, s) : afterFraction(b, i, limit, s);
}

/** A number's optional fraction and exponent, from after its integer part. */
function afterInteger(b: Buffer, i: number, limit: number, s: Scanner): number {
  if (b[i] === DOT) {
    if (!isDigit(b[i + 1])) return INVALID;
    i = skipDigits(b, i + 1, limit, s, FRACTION_DIGITS);
    if (i < 0) return i;
  }
  return afterFraction(b, i, limit, s);
}

/** A number's optional exponent. */
function afterFraction(b: Buffer, i: number, limit: number, s: Scanner): number {
  if (b[i] !== LOWER_E && b[i] !== UPPER_E) return i;
  i += 1;
  if (b[i] === PLUS || b[i] === MINUS) i += 1;
  if (!isDigit(b[i])) return INVALID;
  return skipDigits(b, i, limit, s, EXPONENT_DIGITS);
}

function skipLiteral(b: Buffer, i: number, literal: string): number {
  for (let k = 0; k < literal.length; k += 1) {
    if (b[i + k] !== literal.charCodeAt(k)) return INVALID;
  }
  return i + literal.length;
}

/** Doubles the scanner's nesting state, keeping what it holds. */
function growNesting(s: Scanner): Uint32Array {
  const grown = new Uint32Array(s.stack.length * 2);
  grown.set(s.stack);
  s.stack = grown;
  return grown;
}

/**
 * Skips one JSON value from `i` (no leading whitespace), or goes on with the
 * one `s` stopped inside; returns the index after it, INVALID, or SUSPENDED
 * when it reached `limit` inside a container (it then keeps in `s` where).
 *
 * The nesting state is one bit per open container (1: an object, 0: an
 * array) in `s.stack`: a body can nest about as deep as it is long (32 MB of
 * `[` is 32 M levels), and a JS array with an entry per level grew, by
 * copying, to over a gigabyte. Each step keeps the next byte in `c` and goes
 * around whitespace only when there is some.
 */
function skipValue(s: Scanner, b: Buffer, i: number, limit: number): number {
  let stack = s.stack;
  /** Open containers; the innermost is at bit `depth - 1`. */
  let depth = s.depth;
  /** Whether the innermost open container is an object (else an array). */
  let inObject = s.inObject;
  let afterValue = s.afterValue;
  let c = 0;
  if (s.numberPart !== 0) {
    // Stopped inside a number: finish it, then go on after it.
    const part = s.numberPart;
    s.numberPart = 0;
    i = resumeNumber(b, i, limit, s, part);
    if (i < 0) return i; // INVALID, or SUSPENDED again (s unchanged but s.i and s.numberPart)
    afterValue = true;
  } else if (s.inString) {
    // Stopped inside a string: finish it, then go on after it.
    i = skipStringFrom(b, i, limit, s);
    if (i < 0) return i; // INVALID, or SUSPENDED again (s unchanged but s.i)
    s.inString = false;
    if (s.stringIsName) {
      i = afterMemberName(b, i);
      if (i === INVALID) return INVALID;
      afterValue = false;
    } else {
      afterValue = true;
    }
  }
  for (;;) {
    if (!afterValue) {
      // A value at i.
      if (i >= limit) break;
      c = b[i] as number;
      if (c === LBRACKET) {
        i += 1;
        c = b[i] as number;
        if (c <= SPACE) {
          i = skipWhitespace(b, i);
          c = b[i] as number;
        }
        if (c !== RBRACKET) {
          const word = depth >>> 5;
          if (word >= stack.length) stack = growNesting(s);
          stack[word] = (stack[word] as number) & ~(1 << (depth & 31));
          depth += 1;
          inObject = false;
          continue;
        }
        i += 1;
      } else if (c === LBRACE) {
        i += 1;
        c = b[i] as number;
        if (c <= SPACE) {
          i = skipWhitespace(b, i);
          c = b[i] as number;
        }
        if (c !== RBRACE) {
          const word = depth >>> 5;
          if (word >= stack.length) stack = growNesting(s);
          stack[word] = (stack[word] as number) | (1 << (depth & 31));
          depth += 1;
          inObject = true;
          i = skipMemberName(b, i, limit, s);
          if (i < 0) return i === INVALID ? INVALID : suspendInString(s, depth, true, stack, true);
          continue;
        }
        i += 1;
      } else if (c === QUOTE) {
        i = skipStringFrom(b, i + 1, limit, s);
        if (i < 0) return i === INVALID ? INVALID : suspendInString(s, depth, inObject, stack, false);
      } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
        i = skipNumber(b, i, limit, s);
        if (i < 0) return i === INVALID ? INVALID : keepState(s, depth, inObject, stack);
      } else if (c === 0x74) {
        i = skipLiteral(b, i, 'true');
        if (i === INVALID) return INVALID;
      } else if (c === 0x66) {
        i = skipLiteral(b, i, 'false');
        if (i === INVALID) return INVALID;
      } else if (c === 0x6e) {
        i = skipLiteral(b, i, 'null');
        if (i === INVALID) return INVALID;
      } else {
        return INVALID;
      }
    }
    afterValue = false;

    // After a value: close finished containers, or move to the next element.
    for (;;) {
      if (depth === 0) {
        s.depth = 0;
        s.afterValue = false;
        return i;
      }
      if (i >= limit) {
        afterValue = true;
        break;
      }
      c = b[i] as number;
      if (c <= SPACE) {
        i = skipWhitespace(b, i);
        c = b[i] as number;
      }
      if (c === COMMA) {
        i += 1;
        if ((b[i] as number) <= SPACE) i = skipWhitespace(b, i);
        if (inObject) {
          i = skipMemberName(b, i, limit, s);
          if (i < 0) return i === INVALID ? INVALID : suspendInString(s, depth, true, stack, true);
        }
        break;
      }
      if (c === (inObject ? RBRACE : RBRACKET)) {
        i += 1;
        depth -= 1;
        if (depth > 0) {
          const below = depth - 1;
          inObject = (((stack[below >>> 5] as number) >>> (below & 31)) & 1) === 1;
        }
        continue;
      }
      return INVALID;
    }
    if (afterValue) break;
  }
  // Stopped at the limit: where to go on from.
  s.depth = depth;
  s.inObject = inObject;
  s.afterValue = afterValue;
  s.i = i;
  return SUSPENDED;
}

/** Keeps skipValue's state when it stopped inside a number (`s.i` and `s.numberPart` are set); returns SUSPENDED. */
function keepState(s: Scanner, depth: number, inObject: boolean, stack: Uint32Array): number {
  s.depth = depth;
  s.inObject = inObject;
  s.stack = stack;
  s.afterValue = false;
  return SUSPENDED;
}

/** Keeps skipValue's state when it stopped inside a string (`s.i` is set); returns SUSPENDED. */
function suspendInString(
  s: Scanner,
  depth: number,
  inObject: boolean,
  stack: Uint32Array,
  isName: boolean,
): number {
  s.inString = true;
  s.stringIsName = isName;
  return keepState(s, depth, inObject, stack);
}

/** `"name" :` and the whitespace after it; returns the index of the value, INVALID, or SUSPENDED inside the name. */
function skipMemberName(b: Buffer, i: number, limit: number, s: Scanner): number {
  if (b[i] !== QUOTE) return INVALID;
  i = skipStringFrom(b, i + 1, limit, s);
  if (i < 0) return i;
  return afterMemberName(b, i);
}

/** From after a member's name: whitespace, the colon, whitespace; returns the index of the value, or INVALID. */
function afterMemberName(b: Buffer, i: number): number {
  i = skipWhitespace(b, i);
  if (b[i] !== COLON) return INVALID;
  return skipWhitespace(b, i + 1);
}
