// Request bodies shaped to make a JSON scanner work hard, each of an exact
// size: deep nesting of every kind, millions of tiny values and keys, long
// runs of escapes, huge numbers and models, whitespace, duplicate and escaped
// top-level keys. The benchmark (bench/hostile-bodies.ts) sends them at 32 MB
// to the real processor; the tests send them too, smaller or at full size.
// Each is built from a repeated unit with Buffer.fill, so even 32 MB takes
// milliseconds; every shape is padded to its size with trailing whitespace,
// which JSON allows.
import { UNKNOWN_LONG_MODEL } from '../../processor/policy/catalog.ts';
import { messagesBody } from './bodies.ts';

/** What the gateway answers a shape (the catalog is the built-in one). */
export type Verdict =
  | { readonly forwarded: true }
  | { readonly forwarded: false; readonly reason: string; readonly message: string };

export interface HostileShape {
  readonly name: string;
  readonly description: string;
  readonly verdict: Verdict;
  /** A body of exactly `bytes` bytes (at least a few hundred). */
  readonly build: (bytes: number) => Buffer;
}

export const SHAPE_MODEL = 'claude-sonnet-4-6';
const HEAD = `{"model":"${SHAPE_MODEL}"`;

const FORWARDED: Verdict = { forwarded: true };
const rejected = (reason: string, message: string): Verdict => ({ forwarded: false, reason, message });
const INVALID_JSON = rejected('invalid_json', 'request body is not valid JSON');
// A model name longer than any of the catalog: refused without being decoded.
const UNKNOWN_MODEL = rejected('unknown_model', UNKNOWN_LONG_MODEL.message);
const DUPLICATE_MODEL = rejected('duplicate_model', 'request body has more than one "model" field');

/** Writes text at `at`; returns the index after it. */
function put(body: Buffer, at: number, text: string): number {
  return at + body.write(text, at, 'latin1');
}

/** Repeats `unit` from `at` as many whole times as fit before `limit`; returns the index after the last. */
function repeat(body: Buffer, at: number, limit: number, unit: string): number {
  const count = Math.max(0, Math.floor((limit - at) / unit.length));
  const end = at + count * unit.length;
  if (count > 0) body.fill(unit, at, end, 'latin1');
  return end;
}

/**
 * `prefix`, then `unit` repeated, then `suffix`, padded with spaces to `bytes`.
 * With `count`, the unit is repeated that many times; otherwise as often as fits.
 */
function filled(bytes: number, prefix: string, unit: string, suffix: string): Buffer {
  const body = Buffer.alloc(bytes, ' ');
  const start = put(body, 0, prefix);
  const end = repeat(body, start, bytes - suffix.length, unit);
  put(body, end, suffix);
  return body;
}

/** `prefix`, `open` d times, `leaf`, `close` d times, `suffix`: as deep as `bytes` allows. */
function nested(bytes: number, prefix: string, open: string, leaf: string, close: string, suffix: string) {
  const depth = Math.floor(
    (bytes - prefix.length - leaf.length - suffix.length) / (open.length + close.length),
  );
  const body = Buffer.alloc(bytes, ' ');
  let at = put(body, 0, prefix);
  at = repeat(body, at, at + depth * open.length, open);
  at = put(body, at, leaf);
  at = repeat(body, at, at + depth * close.length, close);
  put(body, at, suffix);
  return body;
}

export const HOSTILE_SHAPES: readonly HostileShape[] = [
  {
    name: 'ordinary',
    description: 'an ordinary Messages request (a long system prompt): the reference',
    verdict: FORWARDED,
    build: (bytes) => messagesBody(bytes),
  },
  {
    name: 'deep-arrays-unclosed',
    description: '`{"model":…,"x":[[[[…` to the end, never closed',
    verdict: INVALID_JSON,
    build: (bytes) => {
      const body = Buffer.alloc(bytes, '[');
      put(body, 0, `${HEAD},"x":`);
      return body;
    },
  },
  {
    name: 'deep-arrays',
    description: '`[[[[…]]]]` nested half the body deep, closed',
    verdict: FORWARDED,
    build: (bytes) => nested(bytes, `${HEAD},"x":`, '[', '', ']', '}'),
  },
  {
    name: 'deep-objects',
    description: '`{"a":{"a":…0}}`',
    verdict: FORWARDED,
    build: (bytes) => nested(bytes, `${HEAD},"x":`, '{"a":', '0', '}', '}'),
  },
  {
    name: 'deep-objects-unclosed',
    description: '`{"":{"":{"":…` to the end',
    verdict: INVALID_JSON,
    build: (bytes) => filled(bytes, `${HEAD},"x":`, '{"":', ''),
  },
  {
    name: 'deep-mixed',
    description: '`[{"":[{"":…0}]}]`, arrays and objects in turn',
    verdict: FORWARDED,
    build: (bytes) => nested(bytes, `${HEAD},"x":`, '[{"":', '0', '}]', '}'),
  },
  {
    name: 'deep-spaced',
    description: '`[ [ [ … ] ] ]`, whitespace between the brackets',
    verdict: FORWARDED,
    build: (bytes) => nested(bytes, `${HEAD},"x":`, '[ ', '0', ' ]', '}'),
  },
  {
    name: 'deep-model-keys',
    description: '`{"model":{"model":…"x"}}`, "model" keys nested inside a field',
    verdict: FORWARDED,
    build: (bytes) => nested(bytes, `${HEAD},"x":`, '{"model":', `"${SHAPE_MODEL}"`, '}', '}'),
  },
  {
    name: 'empty-arrays',
    description: '`[[],[],[],…]`, millions of empty containers',
    verdict: FORWARDED,
    build: (bytes) => filled(bytes, `${HEAD},"x":[`, '[],', '[]]}'),
  },
  {
    name: 'numbers',
    description: '`[0,0,0,…]`, millions of one-digit numbers',
    verdict: FORWARDED,
    build: (bytes) => filled(bytes, `${HEAD},"x":[`, '0,', '0]}'),
  },
  {
    name: 'empty-strings',
    description: '`["","",…]`',
    verdict: FORWARDED,
    build: (bytes) => filled(bytes, `${HEAD},"x":[`, '"",', '""]}'),
  },
  {
    name: 'tiny-keys',
    description: '`{"model":…,"":0,"":0,…}`, millions of tiny top-level members',
    verdict: FORWARDED,
    build: (bytes) => filled(bytes, HEAD, ',"":0', '}'),
  },
  {
    name: 'escaped-keys',
    description: '`{"model":…,"\\u006d":0,…}`, millions of top-level keys written with escapes',
    verdict: FORWARDED,
    build: (bytes) => filled(bytes, HEAD, ',"\\u006d\\u006f":0', '}'),
  },
  {
    name: 'duplicate-models',
    description: '`"model":"…"` repeated at the top level',
    verdict: DUPLICATE_MODEL,
    build: (bytes) => filled(bytes, HEAD, `,"model":"${SHAPE_MODEL}"`, '}'),
  },
  {
    name: 'duplicate-escaped-models',
    description: '`"mod\\u0065l":0` repeated at the top level',
    verdict: DUPLICATE_MODEL,
    build: (bytes) => filled(bytes, HEAD, ',"mod\\u0065l":0', '}'),
  },
  {
    name: 'escapes',
    description: 'a string of `\\u0000` escapes, the whole body long',
    verdict: FORWARDED,
    build: (bytes) => filled(bytes, `${HEAD},"x":"`, '\\u0000', '"}'),
  },
  {
    name: 'short-escapes',
    description: 'a string of `\\n` escapes, the whole body long',
    verdict: FORWARDED,
    build: (bytes) => filled(bytes, `${HEAD},"x":"`, '\\n', '"}'),
  },
  {
    name: 'escaped-model',
    description: 'the model itself, the whole body long, written as `\\u00e9` escapes',
    verdict: UNKNOWN_MODEL,
    build: (bytes) => filled(bytes, '{"model":"', '\\u00e9', '"}'),
  },
  {
    name: 'long-model',
    description: 'the model itself, the whole body long, plain text with one non-ASCII character',
    verdict: UNKNOWN_MODEL,
    build: (bytes) => {
      const body = filled(bytes, '{"model":"', 'a', '"}');
      // é as UTF-8, so that the decoded string needs two bytes per character.
      body[10] = 0xc3;
      body[11] = 0xa9;
      return body;
    },
  },
  {
    name: 'huge-number',
    description: 'one number with the whole body of digits',
    verdict: FORWARDED,
    build: (bytes) => filled(bytes, `${HEAD},"x":1`, '0', '}'),
  },
  {
    name: 'whitespace',
    description: 'the body almost all whitespace inside the object',
    verdict: FORWARDED,
    build: (bytes) => filled(bytes, `${HEAD},`, ' ', '"x":0}'),
  },
  {
    name: 'invalid-utf8-at-end',
    description: 'an ordinary request whose last string byte is not UTF-8',
    verdict: rejected('invalid_utf8', 'request body is not valid UTF-8'),
    build: (bytes) => {
      const body = messagesBody(bytes);
      // Inside the last string ("…one sentence."): a lone continuation byte.
      body[body.lastIndexOf('.')] = 0x80;
      return body;
    },
  },
];

export function hostileShape(name: string): HostileShape {
  const shape = HOSTILE_SHAPES.find((s) => s.name === name);
  if (shape === undefined) throw new Error(`no hostile shape named ${name}`);
  return shape;
}
