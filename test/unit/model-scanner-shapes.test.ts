// The model scanner on generated adversarial shapes: nesting of every kind
// and depth (closed, damaged, cut short), millions-wide containers, top-level
// keys spelled with escapes, escape-heavy strings, huge models. On each it
// must agree with JSON.parse, hold a nesting state of at most a bit or two
// per level (never an entry per level), give the same verdict when driven a
// slice at a time, and not decode a model past its limit.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HOSTILE_SHAPES } from '../../bench/lib/hostile-shapes.ts';
import { DEFAULT_CATALOG } from '../../processor/config/default-catalog.ts';
import { indexCatalog, longestModelSpelling } from '../../processor/policy/catalog.ts';
import { type ModelScan, scanModel, startModelScan } from '../../processor/policy/model-scanner.ts';
import { runs } from '../support/fuzz.ts';
import { agreesWith } from '../support/json-reference.ts';

/** The most nesting state a scan may hold for `depth` levels: 256 bytes, or under two bits a level. */
const nestingBound = (depth: number) => Math.max(256, 8 * Math.ceil(depth / 32));

interface Sliced {
  readonly scan: ModelScan;
  /** How many times advance() returned before the verdict. */
  readonly stops: number;
  readonly nestingBytes: number;
}

function scanInSlices(body: Buffer, slice: number): Sliced {
  const scanner = startModelScan(body);
  let stops = 0;
  for (;;) {
    const scan = scanner.advance(slice);
    if (scan !== undefined) return { scan, stops, nestingBytes: scanner.nestingBytes };
    stops += 1;
    if (stops > body.length + 1) throw new Error('the scan does not progress');
  }
}

/** Everything that must hold for one generated body whose nesting is at most `depth`. */
function checkBody(text: string | Buffer, depth: number, slice: number): void {
  const body = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const whole = scanModel(body);
  expect(agreesWith(whole, body), body.subarray(0, 200).toString()).toBe(true);
  const sliced = scanInSlices(body, slice);
  expect(sliced.scan).toEqual(whole);
  expect(sliced.nestingBytes).toBeLessThanOrEqual(nestingBound(depth));
}

// ---------------------------------------------------------------------------
// Nesting.

/** Container openers and their closers; `levels` is how many containers one opener opens. */
const OPENERS = [
  { open: '[', close: ']', levels: 1 },
  { open: '{"a":', close: '}', levels: 1 },
  { open: '{"model":', close: '}', levels: 1 },
  { open: '[{"":', close: '}]', levels: 2 },
  { open: '[ \n', close: '\t]', levels: 1 },
  { open: '{ "k" : ', close: ' }', levels: 1 },
  { open: '[0,', close: ']', levels: 1 },
  { open: '{"x":1,"y":', close: '}', levels: 1 },
] as const;

const LEAVES = ['0', '""', '[]', '{}', 'true', 'null', '"claude-sonnet-4-6"', '-1.5e5', '[[]]', '{"":{}}'];
const DAMAGE = [
  'none',
  'none',
  'drop-closer',
  'swap-closer',
  'extra-closer',
  'trailing-comma',
  'cut',
] as const;

interface NestingCase {
  readonly pattern: readonly number[];
  readonly openers: number;
  readonly leaf: string;
  readonly place: string;
  readonly damage: (typeof DAMAGE)[number];
  readonly at: number;
}

const nestingArb = fc.record({
  pattern: fc.array(fc.integer({ min: 0, max: OPENERS.length - 1 }), { minLength: 1, maxLength: 6 }),
  openers: fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: 80 }), weight: 3 },
    { arbitrary: fc.integer({ min: 1_000, max: 30_000 }), weight: 1 },
  ),
  leaf: fc.constantFrom(...LEAVES),
  place: fc.constantFrom('member', 'member-first', 'model', 'document'),
  damage: fc.constantFrom(...DAMAGE),
  at: fc.nat(),
  slice: fc.integer({ min: 1, max: 5_000 }),
});

function nestedDocument(n: NestingCase): { text: string; depth: number } {
  const openers = Array.from(
    { length: n.openers },
    (_, k) => OPENERS[n.pattern[k % n.pattern.length] as number],
  );
  const depth = openers.reduce((sum, o) => sum + (o?.levels ?? 0), 0);
  const closers: string[] = openers.map((o) => o?.close ?? '').reverse();
  const at = n.at % closers.length;
  if (n.damage === 'drop-closer') closers.splice(at, 1);
  if (n.damage === 'swap-closer') closers[at] = closers[at] === ']' ? '}' : ']';
  if (n.damage === 'extra-closer') closers.splice(at, 0, closers[at] ?? ']');
  if (n.damage === 'trailing-comma') closers[at] = `,${closers[at]}`;
  const value = `${openers.map((o) => o?.open ?? '').join('')}${n.leaf}${closers.join('')}`;
  let text: string;
  if (n.place === 'document') text = value;
  else if (n.place === 'model') text = `{"max_tokens":1,"model":${value}}`;
  else if (n.place === 'member-first') text = `{"x":${value},"model":"claude-sonnet-4-6"}`;
  else text = `{"model":"claude-sonnet-4-6","x":${value}}`;
  if (n.damage === 'cut') text = text.slice(0, n.at % (text.length + 1));
  return { text, depth };
}
describe('scanModel on deep nesting', () => {
  it('agrees with JSON.parse, slice by slice too, with a nesting state of under two bits a level', () => {
    fc.assert(
      fc.property(nestingArb, (n) => {
        const { text, depth } = nestedDocument(n);
        checkBody(text, depth, n.slice);
      }),
      { numRuns: runs(300) },
    );
  });

  it('holds 32 M levels in 4 MiB (a JS array per level took over a gigabyte)', () => {
    const body = HOSTILE_SHAPES.find((s) => s.name === 'deep-arrays-unclosed')?.build(32_000_000) as Buffer;
    const scanner = startModelScan(body);
    expect(scanner.advance(Number.POSITIVE_INFINITY)).toEqual({ ok: false, problem: 'invalid_json' });
    // 32 M levels, a bit each: 4,000,000 bytes, in a state grown by doubling from 256.
    expect(scanner.nestingBytes).toBe(4 * 1024 * 1024);
  });

  it('stops within its slices inside a deep body and goes on where it stopped', () => {
    const depth = 1_000_000;
    const body = Buffer.from(`{"model":"m","x":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    const { scan, stops } = scanInSlices(body, 64 * 1024);
    expect(scan).toEqual({ ok: true, model: 'm' });
    // 2 MB in 64 KiB slices: it stopped about 30 times, in the brackets alone.
    expect(stops).toBeGreaterThanOrEqual(Math.floor(body.length / (64 * 1024)) - 1);
  });
});

// ---------------------------------------------------------------------------
// Wide containers and many members.

const UNITS = [
  '0',
  '-0.5e-3',
  '""',
  '"\\u0000"',
  '[]',
  '{}',
  'true',
  'null',
  '{"":0}',
  '[0]',
  '"a\\"b"',
  '1e',
  '-12.5E+07',
  '01',
  '1.e5',
  '"\\x"',
  '[,]',
];

const wideArb = fc.record({
  units: fc.array(fc.constantFrom(...UNITS), { minLength: 1, maxLength: 3 }),
  count: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1_000, max: 40_000 })),
  separator: fc.constantFrom(',', ', ', ' ,\n', ',\t'),
  container: fc.constantFrom('array', 'object', 'top-level'),
  slice: fc.integer({ min: 1, max: 5_000 }),
});

describe('scanModel on wide containers', () => {
  it('agrees with JSON.parse on arrays, objects and top levels of many small values', () => {
    fc.assert(
      fc.property(wideArb, (w) => {
        const items = Array.from({ length: w.count }, (_, k) => w.units[k % w.units.length] as string);
        let text: string;
        if (w.container === 'array') text = `{"model":"m","x":[${items.join(w.separator)}]}`;
        else if (w.container === 'object')
          text = `{"model":"m","x":{${items.map((v, k) => `"k${k % 7}":${v}`).join(w.separator)}}}`;
        else text = `{${[...items.map((v) => `"":${v}`), '"model":"m"'].join(w.separator)}}`;
        checkBody(text, 2, w.slice);
      }),
      { numRuns: runs(200) },
    );
  });
});

// ---------------------------------------------------------------------------
// Top-level keys spelled every which way.

/** A key written with each character plain or as \uXXXX (either case of hex). */
const spelledArb = (key: string) =>
  fc
    .array(fc.constantFrom('plain', 'lower', 'upper'), { minLength: key.length, maxLength: key.length })
    .map((styles) =>
      [...key]
        .map((ch, k) => {
          const style = styles[k];
          if (style === 'plain') return JSON.stringify(ch).slice(1, -1);
          const hex = (ch.codePointAt(0) as number).toString(16).padStart(4, '0');
          return `\\u${style === 'upper' ? hex.toUpperCase() : hex}`;
        })
        .join(''),
    );

const keyArb = fc.oneof(
  spelledArb('model'),
  fc.constantFrom('mode', 'models', 'Model', 'mod', 'model ', ' model', 'mo\\"del').chain(spelledArb),
  fc.constantFrom(
    'model\\u0000',
    'model\\n',
    'm\\u006fdel\\u0020',
    '\\u006d\\u006f\\u0064\\u0065\\u006c\\u006c',
  ),
  fc.string({ unit: 'binary', maxLength: 8 }).map((s) => JSON.stringify(s).slice(1, -1)),
);
const memberValueArb = fc.constantFrom(
  '"claude-sonnet-4-6"',
  '"x"',
  '0',
  'null',
  '[]',
  '{"model":"y"}',
  '"\\u0041"',
);

describe('scanModel on top-level keys written with escapes', () => {
  it('finds "model" however it is spelled, and a second one', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(keyArb, memberValueArb), { maxLength: 40 }),
        fc.integer({ min: 0, max: 3_000 }),
        fc.integer({ min: 1, max: 500 }),
        (members, copies, slice) => {
          // The members, then `copies` more of the first: many duplicates of one spelling.
          const first = members[0];
          const all = first === undefined ? members : [...members, ...Array(copies).fill(first)];
          const text = `{${all.map(([k, v]) => `"${k}":${v}`).join(',')}}`;
          checkBody(text, 1, slice);
        },
      ),
      { numRuns: runs(500) },
    );
  });
});

// ---------------------------------------------------------------------------
// Strings made of escapes.

const escapeUnitArb = fc.oneof(
  {
    arbitrary: fc.constantFrom('\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t', 'a', 'é', '😀'),
    weight: 6,
  },
  {
    arbitrary: fc.integer({ min: 0, max: 0xffff }).map((u) => `\\u${u.toString(16).padStart(4, '0')}`),
    weight: 4,
  },
  { arbitrary: fc.constantFrom('\\x', '\\u12', '\\u12G4', '\u0001', '\\U0041', '\\'), weight: 1 },
);

describe('scanModel stopping inside long strings', () => {
  it('stops inside a 2 MB string, wherever it stands, and goes on where it stopped', () => {
    const long = 'ab\\n\\"\\u00e9'.repeat(2 * 1024 * 100);
    for (const text of [
      `{"${long}":0,"model":"m"}`,
      `{"model":"m","x":"${long}"}`,
      `{"model":"m","x":[{"${long}":[]}]}`,
      `{"model":"${long}"}`,
      `["${long}"]`,
      `{"model":"m","x":{"${long}" 0}}`,
    ]) {
      const body = Buffer.from(text);
      const { scan, stops } = scanInSlices(body, 64 * 1024);
      expect(scan, text.slice(0, 30)).toEqual(scanModel(body));
      expect(agreesWith(scan, body)).toBe(true);
      expect(stops).toBeGreaterThanOrEqual(Math.floor(body.length / (64 * 1024)) - 1);
    }
  });
});

describe('scanModel stopping inside long numbers', () => {
  it('stops in the digits of any part of a number, and goes on where it stopped', () => {
    const digits = '1234567890'.repeat(100_000);
    const numbers = [
      `1${digits}`,
      `-${digits}`,
      `0.${digits}`,
      `-1${digits}.5e+${digits}`,
      `1.${digits}E${digits}`,
      `1${digits}.`,
      `1.${digits}e`,
      `1${digits}e-`,
      `0${digits}`,
      `1${digits}x`,
    ];
    for (const number of numbers) {
      for (const text of [
        `{"model":"m","x":${number}}`,
        `{"model":"m","x":[${number},${number}]}`,
        `{"model":${number}}`,
        `{"x":{"y":${number}},"model":"m"}`,
        number,
      ]) {
        const body = Buffer.from(text);
        const { scan, stops } = scanInSlices(body, 64 * 1024);
        expect(scan, text.slice(0, 30)).toEqual(scanModel(body));
        expect(agreesWith(scan, body), text.slice(0, 30)).toBe(true);
        if (scan.ok) expect(stops).toBeGreaterThanOrEqual(Math.floor(body.length / (64 * 1024)) - 1);
      }
    }
  });
});

describe('scanModel on escape-heavy strings', () => {
  it('agrees with JSON.parse on long runs of escapes as keys, values and the model', () => {
    fc.assert(
      fc.property(
        fc.array(escapeUnitArb, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 20_000 }),
        fc.constantFrom('model', 'value', 'key', 'nested'),
        fc.integer({ min: 1, max: 5_000 }),
        (units, copies, place, slice) => {
          const content = Array.from({ length: copies }, (_, k) => units[k % units.length]).join('');
          const text =
            place === 'model'
              ? `{"model":"${content}"}`
              : place === 'value'
                ? `{"model":"m","x":"${content}"}`
                : place === 'key'
                  ? `{"${content}":0,"model":"m"}`
                  : `{"model":"m","x":[{"${content}":"${content}"}]}`;
          checkBody(text, 2, slice);
        },
      ),
      { numRuns: runs(300) },
    );
  });
});

// ---------------------------------------------------------------------------
// The model's length limit.

describe('scanModel with maxModelBytes', () => {
  it('decodes a model written within the limit and answers model_too_long past it', () => {
    fc.assert(
      fc.property(
        fc.array(
          escapeUnitArb.filter((u) => !['\\x', '\\u12', '\\u12G4', '\u0001', '\\U0041', '\\'].includes(u)),
          {
            maxLength: 40,
          },
        ),
        fc.nat({ max: 300 }),
        (units, limit) => {
          const written = units.join('');
          const body = Buffer.from(`{"x":1,"model":"${written}","y":[2]}`);
          const unlimited = scanModel(body);
          expect(unlimited.ok).toBe(true);
          const limited = scanModel(body, { maxModelBytes: limit });
          if (Buffer.byteLength(written) <= limit) expect(limited).toEqual(unlimited);
          else expect(limited).toEqual({ ok: false, problem: 'model_too_long' });
        },
      ),
      { numRuns: runs(500) },
    );
  });

  it('a structural error, a duplicate or a model that is not a string still win over the length', () => {
    const long = 'x'.repeat(100);
    expect(scanModel(Buffer.from(`{"model":"${long}"`), { maxModelBytes: 10 })).toEqual({
      ok: false,
      problem: 'invalid_json',
    });
    expect(scanModel(Buffer.from(`{"model":"${long}","model":"a"}`), { maxModelBytes: 10 })).toEqual({
      ok: false,
      problem: 'duplicate_model',
    });
    expect(scanModel(Buffer.from(`{"model":["${long}"]}`), { maxModelBytes: 10 })).toEqual({
      ok: false,
      problem: 'model_not_a_string',
    });
  });

  it('the limit a catalog gives admits every id of it, however it is written', () => {
    const catalog = indexCatalog(DEFAULT_CATALOG);
    const limit = longestModelSpelling(catalog);
    for (const id of catalog.keys()) {
      const escaped = [...id].map(
        (ch) => `\\u${(ch.codePointAt(0) as number).toString(16).padStart(4, '0')}`,
      );
      const body = Buffer.from(`{"model":"${escaped.join('')}"}`);
      expect(scanModel(body, { maxModelBytes: limit })).toEqual({ ok: true, model: id });
    }
  });
});

// ---------------------------------------------------------------------------
// The benchmark's shapes.

describe('scanModel on the benchmark hostile shapes', () => {
  for (const shape of HOSTILE_SHAPES) {
    it(`${shape.name}: agrees with JSON.parse at 64 KB and 1 MB, and slice by slice`, () => {
      for (const bytes of [64 * 1024, 1024 * 1024]) {
        const body = shape.build(bytes);
        expect(body.length).toBe(bytes);
        // A body nests at most once per byte.
        checkBody(body, bytes, 16 * 1024);
      }
    });
  }
});
