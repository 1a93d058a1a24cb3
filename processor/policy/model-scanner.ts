// Finds the top-level "model" of a JSON request body without parsing it into
// objects or copying it. The scanner validates the whole document as JSON
// (RFC 8259, as strict as JSON.parse) so the gateway never decides on a value
// that the upstream would read differently: if JSON.parse would fail, so does
// the scan; if the body names "model" twice at the top level, we refuse rather
// than guess which one the upstream takes. It is iterative, so deep nesting
// cannot overflow the stack.
import { isUtf8 } from 'node:buffer';

export type ScanProblem =
  | 'empty'
  | 'invalid_utf8'
  | 'invalid_json'
  | 'not_an_object'
  | 'missing_model'
  | 'model_not_a_string'
  | 'duplicate_model';

export type ModelScan =
  | { readonly ok: true; readonly model: string }
  | { readonly ok: false; readonly problem: ScanProblem };

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

const fail = (problem: ScanProblem): ModelScan => ({ ok: false, problem });

export function scanModel(body: Buffer): ModelScan {
  nestingPeakBytes = nesting.byteLength;
  const scan = scanDocument(body);
  releaseNesting();
  return scan;
}

function scanDocument(body: Buffer): ModelScan {
  const end = body.length;
  let i = skipWhitespace(body, 0);
  if (i === end) return fail('empty');
  // JSON text is UTF-8 (RFC 8259 §8.1); validated once, natively, so the
  // string scanner below only has to look at ASCII structure.
  if (!isUtf8(body)) return fail('invalid_utf8');

  if (body[i] !== LBRACE) {
    const after = skipValue(body, i);
    if (after === INVALID || skipWhitespace(body, after) !== end) return fail('invalid_json');
    return fail('not_an_object');
  }

  let model: string | undefined;
  let modelProblem: ScanProblem | undefined;
  i = skipWhitespace(body, i + 1);
  if (body[i] === RBRACE) {
    i += 1;
  } else {
    for (;;) {
      if (body[i] !== QUOTE) return fail('invalid_json');
      const keyEnd = skipString(body, i);
      if (keyEnd === INVALID) return fail('invalid_json');
      const isModel = isModelKey(body, i, keyEnd);
      i = skipWhitespace(body, keyEnd);
      if (body[i] !== COLON) return fail('invalid_json');
      i = skipWhitespace(body, i + 1);
      const valueStart = i;
      i = skipValue(body, i);
      if (i === INVALID) return fail('invalid_json');
      if (isModel) {
        if (model !== undefined || modelProblem !== undefined) {
          modelProblem = 'duplicate_model';
        } else if (body[valueStart] === QUOTE) {
          model = decodeString(body, valueStart, i);
        } else {
          modelProblem = 'model_not_a_string';
        }
      }
      i = skipWhitespace(body, i);
      const next = body[i];
      if (next === COMMA) {
        i = skipWhitespace(body, i + 1);
      } else if (next === RBRACE) {
        i += 1;
        break;
      } else {
        return fail('invalid_json');
      }
    }
  }
  if (skipWhitespace(body, i) !== end) return fail('invalid_json');
  if (modelProblem === 'duplicate_model') return fail('duplicate_model');
  if (modelProblem !== undefined) return fail(modelProblem);
  if (model === undefined) return fail('missing_model');
  return { ok: true, model };
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
  const backslash = b.indexOf(BACKSLASH, start);
  if (backslash === -1 || backslash >= end) return b.toString('utf8', start + 1, end - 1);
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

/** From an opening quote, returns the index after the closing quote, or INVALID. */
function skipString(b: Buffer, i: number): number {
  const end = b.length;
  const stop = STRING_STOP;
  i += 1;
  while (i < end) {
    // Prompts are long runs of plain text: test four bytes per step with one
    // branch (about twice as fast as a byte at a time), then look closer.
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
    if (c === BACKSLASH) {
      const escaped = b[i + 1];
      if (escaped === 0x75) {
        // \uXXXX
        for (let k = i + 2; k < i + 6; k += 1) {
          if (!isHexDigit(b[k])) return INVALID;
        }
        i += 6;
        continue;
      }
      if (
        escaped === QUOTE ||
        escaped === BACKSLASH ||
        escaped === 0x2f || // /
        escaped === 0x62 || // b
        escaped === 0x66 || // f
        escaped === 0x6e || // n
        escaped === 0x72 || // r
        escaped === 0x74 // t
      ) {
        i += 2;
        continue;
      }
      return INVALID;
    }
  }
  return INVALID;
}

function isHexDigit(c: number | undefined): boolean {
  return (
    c !== undefined && ((c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66))
  );
}

function skipDigits(b: Buffer, i: number): number {
  while (i < b.length) {
    const c = b[i] as number;
    if (c < ZERO || c > NINE) break;
    i += 1;
  }
  return i;
}

/** -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
function skipNumber(b: Buffer, i: number): number {
  if (b[i] === MINUS) i += 1;
  const first = b[i];
  if (first === ZERO) {
    i += 1;
  } else if (first !== undefined && first > ZERO && first <= NINE) {
    i = skipDigits(b, i + 1);
  } else {
    return INVALID;
  }
  if (b[i] === DOT) {
    const afterDot = skipDigits(b, i + 1);
    if (afterDot === i + 1) return INVALID;
    i = afterDot;
  }
  if (b[i] === LOWER_E || b[i] === UPPER_E) {
    i += 1;
    if (b[i] === PLUS || b[i] === MINUS) i += 1;
    const afterExponent = skipDigits(b, i);
    if (afterExponent === i) return INVALID;
    i = afterExponent;
  }
  return i;
}

function skipLiteral(b: Buffer, i: number, literal: string): number {
  for (let k = 0; k < literal.length; k += 1) {
    if (b[i + k] !== literal.charCodeAt(k)) return INVALID;
  }
  return i + literal.length;
}

/**
 * The nesting state of skipValue: one bit per open container (1: an object,
 * 0: an array), so nesting costs an eighth of a byte per level. A body can
 * nest about as deep as it is long (32 MB of `[` is 32 M levels): a JS array
 * with an entry per level grew by copying to over a gigabyte. Kept between
 * scans (one scan runs at a time) so an ordinary body allocates nothing;
 * grown by doubling for deeper bodies and let go after such a scan.
 */
const INITIAL_NESTING_WORDS = 64; // 2,048 levels, 256 bytes
let nesting = new Uint32Array(INITIAL_NESTING_WORDS);
/** The largest nesting state (bytes) of the current or last scan. */
let nestingPeakBytes = 0;

/**
 * The size in bytes of the largest nesting state the last scan held: at most
 * a quarter of its deepest nesting (doubling), plus the initial 256 bytes.
 * For the tests and the benchmark, which check that it stays bounded.
 */
export function nestingStateBytes(): number {
  return nestingPeakBytes;
}

function growNesting(): Uint32Array {
  const grown = new Uint32Array(nesting.length * 2);
  grown.set(nesting);
  nesting = grown;
  nestingPeakBytes = Math.max(nestingPeakBytes, grown.byteLength);
  return grown;
}

/** Called once per scan, after it: a state grown for a deep body is not kept. */
function releaseNesting(): void {
  if (nesting.length > INITIAL_NESTING_WORDS) nesting = new Uint32Array(INITIAL_NESTING_WORDS);
}

/** Skips one JSON value starting at `i` (no leading whitespace); returns the index after it or INVALID. */
function skipValue(b: Buffer, i: number): number {
  let stack = nesting;
  /** Open containers; the innermost is at bit `depth - 1`. */
  let depth = 0;
  /** Whether the innermost open container is an object (else an array). */
  let inObject = false;
  for (;;) {
    // A value at i.
    const c = b[i];
    if (c === LBRACE) {
      i = skipWhitespace(b, i + 1);
      if (b[i] === RBRACE) {
        i += 1;
      } else {
        const word = depth >>> 5;
        if (word >= stack.length) stack = growNesting();
        stack[word] = (stack[word] as number) | (1 << (depth & 31));
        depth += 1;
        inObject = true;
        i = skipMemberName(b, i);
        if (i === INVALID) return INVALID;
        continue;
      }
    } else if (c === LBRACKET) {
      i = skipWhitespace(b, i + 1);
      if (b[i] === RBRACKET) {
        i += 1;
      } else {
        const word = depth >>> 5;
        if (word >= stack.length) stack = growNesting();
        stack[word] = (stack[word] as number) & ~(1 << (depth & 31));
        depth += 1;
        inObject = false;
        continue;
      }
    } else if (c === QUOTE) {
      i = skipString(b, i);
    } else if (c === MINUS || (c !== undefined && c >= ZERO && c <= NINE)) {
      i = skipNumber(b, i);
    } else if (c === 0x74) {
      i = skipLiteral(b, i, 'true');
    } else if (c === 0x66) {
      i = skipLiteral(b, i, 'false');
    } else if (c === 0x6e) {
      i = skipLiteral(b, i, 'null');
    } else {
      return INVALID;
    }
    if (i === INVALID) return INVALID;

    // After a value: close finished containers, or move to the next element.
    for (;;) {
      if (depth === 0) return i;
      i = skipWhitespace(b, i);
      const d = b[i];
      if (d === COMMA) {
        i = skipWhitespace(b, i + 1);
        if (inObject) {
          i = skipMemberName(b, i);
          if (i === INVALID) return INVALID;
        }
        break;
      }
      if (d === (inObject ? RBRACE : RBRACKET)) {
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
  }
}

/** `"name" :` and the whitespace after it; returns the index of the value. */
function skipMemberName(b: Buffer, i: number): number {
  if (b[i] !== QUOTE) return INVALID;
  i = skipString(b, i);
  if (i === INVALID) return INVALID;
  i = skipWhitespace(b, i);
  if (b[i] !== COLON) return INVALID;
  return skipWhitespace(b, i + 1);
}
