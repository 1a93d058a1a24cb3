import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ModelScan, type ScanProblem, scanModel } from '../../processor/policy/model-scanner.ts';
import { runs } from '../support/fuzz.ts';
import { agreesWithJsonParse, reference, utf8 } from '../support/json-reference.ts';

const scan = (text: string): ModelScan => scanModel(Buffer.from(text, 'utf8'));
const fail = (problem: ScanProblem): ModelScan => ({ ok: false, problem });

describe('scanModel: plain cases', () => {
  it('finds the model of an ordinary Messages request', () => {
    const body = JSON.stringify({
      model: 'claude-sonnet-4-6',
      max_tokens: 1024,
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(scan(body)).toEqual({ ok: true, model: 'claude-sonnet-4-6' });
  });

  it('finds the model wherever it sits among the top-level fields', () => {
    expect(scan('{"model":"a"}')).toEqual({ ok: true, model: 'a' });
    expect(scan('{"max_tokens":1,"model":"b","stream":true}')).toEqual({ ok: true, model: 'b' });
    expect(scan('{"messages":[{"role":"user","content":"hi"}],"model":"c"}')).toEqual({
      ok: true,
      model: 'c',
    });
  });

  it('accepts JSON whitespace everywhere between tokens', () => {
    expect(scan(' \t\r\n{ \n"model" \t:\r\n "claude-haiku-4-5" \n, "x" : [ 1 , { } ] }\n\t ')).toEqual({
      ok: true,
      model: 'claude-haiku-4-5',
    });
  });

  it('preserves spaces and case in the model exactly', () => {
    expect(scan('{"model":" Claude-Sonnet-4-6 "}')).toEqual({ ok: true, model: ' Claude-Sonnet-4-6 ' });
    expect(scan('{"model":"CLAUDE-OPUS-4-8"}')).toEqual({ ok: true, model: 'CLAUDE-OPUS-4-8' });
    expect(scan('{"model":"claude sonnet"}')).toEqual({ ok: true, model: 'claude sonnet' });
  });

  it('returns an empty model as ok with the empty string (the catalog then says unknown model)', () => {
    expect(scan('{"model":""}')).toEqual({ ok: true, model: '' });
  });

  it('decodes an escaped model value', () => {
    expect(scan('{"model":"claude-sonnet-4\\u002d6"}')).toEqual({ ok: true, model: 'claude-sonnet-4-6' });
    expect(scan('{"model":"a\\"b\\\\c\\/d\\n"}')).toEqual({ ok: true, model: 'a"b\\c/d\n' });
    expect(scan('{"model":"\\ud83d\\ude00"}')).toEqual({ ok: true, model: '\u{1f600}' });
  });

  it('returns a non-ASCII model as UTF-8 text', () => {
    expect(scan('{"model":"clåude-😀"}')).toEqual({ ok: true, model: 'clåude-😀' });
  });

  it('recognises a key written with escapes as "model"', () => {
    expect(scan('{"mod\\u0065l":"claude-opus-4-8"}')).toEqual({ ok: true, model: 'claude-opus-4-8' });
    expect(scan('{"\\u006d\\u006F\\u0064\\u0065\\u006C":"x"}')).toEqual({ ok: true, model: 'x' });
  });

  it('does not mistake near-miss keys for "model"', () => {
    for (const key of [
      'Model',
      'MODEL',
      'models',
      'mode',
      'modal',
      ' model',
      'model ',
      'model\\u0000',
      'm\\"del',
    ]) {
      expect(scan(`{"${key}":"x"}`), key).toEqual(fail('missing_model'));
    }
  });
});

describe('scanModel: problem codes', () => {
  it('empty: no bytes, or only whitespace', () => {
    expect(scan('')).toEqual(fail('empty'));
    expect(scan(' \n\t\r ')).toEqual(fail('empty'));
  });

  it('invalid_utf8: bytes that are not UTF-8', () => {
    const bodies = [
      Buffer.concat([Buffer.from('{"model":"'), Buffer.from([0xff]), Buffer.from('"}')]),
      Buffer.concat([Buffer.from('{"model":"x","a":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]), // overlong
      Buffer.concat([Buffer.from('{"model":"x","a":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]), // surrogate
      Buffer.concat([Buffer.from('{"model":"x","a":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]), // cut short
      Buffer.concat([Buffer.from('{"model":"x"} '), Buffer.from([0x80])]),
    ];
    for (const body of bodies) expect(scanModel(body), body.toString('hex')).toEqual(fail('invalid_utf8'));
  });

  it('invalid_json: malformed documents', () => {
    const bodies = [
      "{'model':'x'}",
      '{model:"x"}',
      '{"model":"x",}',
      '{"model":"x" "a":1}',
      '{"model" "x"}',
      '{"model":"x","a":01}',
      '{"model":"x","a":1.}',
      '{"model":"x","a":.5}',
      '{"model":"x","a":1e}',
      '{"model":"x","a":+1}',
      '{"model":"x","a":NaN}',
      '{"model":"x","a":tru}',
      '{"model":"x","a":nul}',
      '{"model":"x","a":[1,]}',
      '{"model":"x","a":[1 2]}',
      '{"model":"x","a":{"b"}}',
      '{"model":"x","a":"\\x"}',
      '{"model":"x","a":"\\u12"}',
      '{"model":"x","a":"\\u12G4"}',
      '{"model":"x","a":"tab\there"}',
      '{"model":"line\nbreak"}',
      '{"model":"x"} // comment',
      '{"model":"x"',
      '{',
      '}',
      '{"model":"x"}}',
    ];
    for (const body of bodies) {
      expect(() => JSON.parse(body), body).toThrow();
      expect(scan(body), body).toEqual(fail('invalid_json'));
    }
  });

  it('invalid_json: a UTF-8 byte order mark before the object', () => {
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('{"model":"claude-sonnet-4-6"}'),
    ]);
    expect(scanModel(body)).toEqual(fail('invalid_json'));
  });

  it('invalid_json: trailing garbage after the object', () => {
    for (const body of [
      '{"model":"x"}x',
      '{"model":"x"}{}',
      '{"model":"x"},',
      '{"model":"x"} 1',
      '{"model":"x"}\0',
    ]) {
      expect(scan(body), body).toEqual(fail('invalid_json'));
    }
    expect(scan('{"model":"x"} \n')).toEqual({ ok: true, model: 'x' });
  });

  it('invalid_json: every truncation of a valid body', () => {
    const body = JSON.stringify({
      model: 'claude-sonnet-4-6',
      max_tokens: -1.5e3,
      stream: true,
      stop: null,
      messages: [{ role: 'user', content: 'hi \u00e9 \\ "q"' }],
    });
    for (let end = 1; end < body.length; end += 1) {
      expect(scan(body.slice(0, end)), body.slice(0, end)).toEqual(fail('invalid_json'));
    }
    expect(scan(body)).toEqual({ ok: true, model: 'claude-sonnet-4-6' });
  });

  it('not_an_object: a JSON array, string, number or literal', () => {
    for (const body of [
      '[]',
      '[{"model":"x"}]',
      '"model"',
      '42',
      '-0.5e2',
      'true',
      'false',
      'null',
      ' [1] ',
    ]) {
      expect(scan(body), body).toEqual(fail('not_an_object'));
    }
  });

  it('missing_model: an object without a top-level model', () => {
    expect(scan('{}')).toEqual(fail('missing_model'));
    expect(scan('{"max_tokens":10}')).toEqual(fail('missing_model'));
  });

  it('missing_model: "model" only nested inside messages or tools', () => {
    const body = JSON.stringify({
      messages: [{ role: 'user', content: 'x', model: 'claude-sonnet-4-6' }],
      tools: [{ name: 't', input_schema: { type: 'object', properties: { model: { type: 'string' } } } }],
      metadata: { model: 'claude-opus-4-8' },
    });
    expect(scan(body)).toEqual(fail('missing_model'));
  });

  it('model_not_a_string: number, null, boolean, array or object', () => {
    for (const value of [
      '1',
      '-2.5',
      'null',
      'true',
      'false',
      '[]',
      '["claude-sonnet-4-6"]',
      '{}',
      '{"id":"x"}',
    ]) {
      expect(scan(`{"model":${value}}`), value).toEqual(fail('model_not_a_string'));
    }
  });

  it('duplicate_model: "model" twice at the top level, however written', () => {
    expect(scan('{"model":"a","model":"b"}')).toEqual(fail('duplicate_model'));
    expect(scan('{"model":"a","model":"a"}')).toEqual(fail('duplicate_model'));
    expect(scan('{"model":"a","x":1,"mod\\u0065l":"b"}')).toEqual(fail('duplicate_model'));
    expect(scan('{"model":1,"model":"b"}')).toEqual(fail('duplicate_model'));
    expect(scan('{"model":"a","model":null}')).toEqual(fail('duplicate_model'));
    expect(scan('{"model":"a","model":"b","model":"c"}')).toEqual(fail('duplicate_model'));
  });

  it('a structural error wins over a model problem', () => {
    expect(scan('{"model":"a","model":"b"')).toEqual(fail('invalid_json'));
    expect(scan('{"model":1,}')).toEqual(fail('invalid_json'));
  });
});

describe('scanModel: large and deep bodies', () => {
  it('handles 100000 nested arrays inside a field without throwing, as JSON.parse does', () => {
    const depth = 100_000;
    const body = `{"messages":${'['.repeat(depth)}${']'.repeat(depth)},"model":"claude-opus-4-7"}`;
    const parsed: unknown = JSON.parse(body);
    expect(Reflect.get(Object(parsed), 'model')).toBe('claude-opus-4-7');
    expect(scan(body)).toEqual({ ok: true, model: 'claude-opus-4-7' });
  });

  it('handles 100000 nested objects inside a field', () => {
    const depth = 100_000;
    const body = `{"model":"m","x":${'{"a":'.repeat(depth)}0${'}'.repeat(depth)}}`;
    expect(scan(body)).toEqual(reference(Buffer.from(body)));
    expect(scan(body)).toEqual({ ok: true, model: 'm' });
  });

  it('rejects unbalanced deep nesting as invalid_json, as JSON.parse does', () => {
    const depth = 100_000;
    const body = `{"model":"m","x":${'['.repeat(depth)}${']'.repeat(depth - 1)}}`;
    expect(() => JSON.parse(body)).toThrow(SyntaxError);
    expect(scan(body)).toEqual(fail('invalid_json'));
  });

  it('finds the model after an 8 MB string field', () => {
    const content = 'abcdefgh\\n\\"'.repeat((8 * 1024 * 1024) / 12);
    const body = Buffer.from(
      `{"messages":[{"role":"user","content":"${content}"}],"max_tokens":1,"model":"claude-sonnet-4-6"}`,
    );
    expect(body.length).toBeGreaterThan(8 * 1024 * 1024);
    expect(scanModel(body)).toEqual({ ok: true, model: 'claude-sonnet-4-6' });
  });

  it('sees a quote, an escape or a control character at every offset of a long string (the scan reads four bytes a step)', () => {
    const plain = 'abcdefghijklmnop';
    const specials = ['"', '\\n', '\\"', '\\u0041', '\n', '\u0001', '\t'];
    for (let offset = 0; offset <= plain.length; offset += 1) {
      for (const special of specials) {
        const text = `${plain.slice(0, offset)}${special}${plain.slice(offset)}`;
        for (const body of [
          `{"model":"claude-sonnet-4-6","system":"${text}"}`,
          `{"system":"${text}","model":"m"}`,
          `{"model":"${text}"}`,
          `{"model":"m","x":"${text}`,
        ]) {
          expect(agreesWithJsonParse(Buffer.from(body)), body).toBe(true);
        }
      }
    }
  });

  it('finds an 8 MB model value', () => {
    const model = 'x'.repeat(8 * 1024 * 1024);
    expect(scan(`{"model":"${model}"}`)).toEqual({ ok: true, model });
  });

  it('scans a body with many top-level keys in linear time (regression: key check read past the key)', () => {
    // Each top-level key used to search the rest of the body for a backslash,
    // which made this body take minutes; it must simply scan.
    const keys = 300_000;
    const parts: string[] = [];
    for (let i = 0; i < keys; i += 1) parts.push(`"k${String(i).padStart(9, '0')}":0`);
    const body = `{${parts.join(',')},"mod\\u0065l":"claude-opus-4-6","tail":"\\\\"}`;
    expect(scan(body)).toEqual({ ok: true, model: 'claude-opus-4-6' });
  });
});

// ---------------------------------------------------------------------------
// Property tests against JSON.parse.

type Style = 'plain' | 'solidus' | 'unicode' | 'unicode-upper' | 'alternate';

/** Serialises JSON with chosen whitespace and string escapes, drawn in turn from the given lists. */
class Writer {
  private wsIndex = 0;
  private styleIndex = 0;
  private readonly whitespace: readonly string[];
  private readonly styles: readonly Style[];

  constructor(whitespace: readonly string[], styles: readonly Style[]) {
    this.whitespace = whitespace;
    this.styles = styles;
  }

  ws(): string {
    const ws = this.whitespace[this.wsIndex % this.whitespace.length] ?? '';
    this.wsIndex += 1;
    return ws;
  }

  string(value: string): string {
    const style = this.styles[this.styleIndex % this.styles.length] ?? 'plain';
    this.styleIndex += 1;
    if (style === 'plain') return JSON.stringify(value);
    if (style === 'solidus') return JSON.stringify(value).replaceAll('/', '\\/');
    let out = '"';
    for (let k = 0; k < value.length; k += 1) {
      const unit = value.charCodeAt(k);
      const escaped = style !== 'alternate' || k % 2 === 0;
      if (escaped) {
        const hex = unit.toString(16).padStart(4, '0');
        out += `\\u${style === 'unicode-upper' ? hex.toUpperCase() : hex}`;
      } else {
        out += JSON.stringify(value.charAt(k)).slice(1, -1);
      }
    }
    return `${out}"`;
  }

  value(value: fc.JsonValue): string {
    if (value === null || typeof value === 'boolean' || typeof value === 'number')
      return JSON.stringify(value);
    if (typeof value === 'string') return this.string(value);
    if (Array.isArray(value)) {
      if (value.length === 0) return `[${this.ws()}]`;
      return `[${value.map((v) => this.ws() + this.value(v) + this.ws()).join(',')}]`;
    }
    const entries = Object.entries(value).filter(
      (entry): entry is [string, fc.JsonValue] => entry[1] !== undefined,
    );
    if (entries.length === 0) return `{${this.ws()}}`;
    return `{${entries.map(([k, v]) => this.member(k, this.value(v))).join(',')}}`;
  }

  member(key: string, valueText: string): string {
    return `${this.ws()}${this.string(key)}${this.ws()}:${this.ws()}${valueText}${this.ws()}`;
  }
}

const whitespaceArb = fc.array(fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r'), maxLength: 3 }), {
  minLength: 1,
  maxLength: 8,
});
const styleArb = fc.array(
  fc.constantFrom<Style>('plain', 'plain', 'solidus', 'unicode', 'unicode-upper', 'alternate'),
  {
    minLength: 1,
    maxLength: 6,
  },
);
const valueArb = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' });
const rawNumberArb = fc.stringMatching(/^-?(0|[1-9][0-9]{0,5})(\.[0-9]{1,4})?([eE][+-]?[0-9]{1,3})?$/);
const keyArb = fc.oneof(
  { arbitrary: fc.constant('model'), weight: 3 },
  {
    arbitrary: fc.constantFrom(
      'models',
      'Model',
      'mode',
      'messages',
      'max_tokens',
      'model ',
      'mo/del',
      '__proto__',
    ),
    weight: 2,
  },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 12 }), weight: 3 },
);
type MemberValue =
  | { readonly kind: 'value'; readonly value: fc.JsonValue }
  | { readonly kind: 'raw'; readonly text: string };
/** A top-level member: its key, and its value as data or as a raw number token (1E+5, -0.5e-3, ...). */
const memberArb = fc.tuple(
  keyArb,
  fc.oneof(
    {
      arbitrary: fc
        .string({
          unit: fc.oneof(
            fc.constantFrom('/', '\\', '"'),
            fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
          ),
          maxLength: 24,
        })
        .map((value): MemberValue => ({ kind: 'value', value })),
      weight: 3,
    },
    { arbitrary: valueArb.map((value): MemberValue => ({ kind: 'value', value })), weight: 3 },
    { arbitrary: rawNumberArb.map((text): MemberValue => ({ kind: 'raw', text })), weight: 1 },
  ),
);

interface Document {
  readonly text: string;
  readonly expected: ModelScan;
}

const documentArb: fc.Arbitrary<Document> = fc
  .record({
    members: fc.array(memberArb, { maxLength: 7 }),
    whitespace: whitespaceArb,
    styles: styleArb,
  })
  .map(({ members, whitespace, styles }) => {
    const writer = new Writer(whitespace, styles);
    const texts = members.map(([key, member]) =>
      writer.member(key, member.kind === 'raw' ? member.text : writer.value(member.value)),
    );
    const text = `${writer.ws()}{${texts.length === 0 ? writer.ws() : texts.join(',')}}${writer.ws()}`;
    const models = members.filter(([key]) => key === 'model').map(([, member]) => member);
    const [only] = models;
    let expected: ModelScan;
    if (models.length === 0) expected = fail('missing_model');
    else if (models.length > 1) expected = fail('duplicate_model');
    else if (only?.kind === 'value' && typeof only.value === 'string')
      expected = { ok: true, model: only.value };
    else expected = fail('model_not_a_string');
    return { text, expected };
  });

const interestingBytes = [...'{}[]",:\\ \t\n0123456789.-+eEtrufalsnmodel/u'].map((c) => c.charCodeAt(0));
const mutationArb = fc.record({
  kind: fc.constantFrom('delete', 'insert', 'replace', 'truncate'),
  position: fc.nat(),
  byte: fc.oneof(
    { arbitrary: fc.constantFrom(...interestingBytes), weight: 4 },
    { arbitrary: fc.integer({ min: 0, max: 255 }), weight: 1 },
  ),
});
type Mutation = typeof mutationArb extends fc.Arbitrary<infer M> ? M : never;

function mutate(text: string, mutations: readonly Mutation[]): Uint8Array {
  let bytes = [...Buffer.from(text, 'utf8')];
  for (const { kind, position, byte } of mutations) {
    const at = position % (bytes.length + 1);
    if (kind === 'delete') bytes.splice(at, 1);
    else if (kind === 'insert') bytes.splice(at, 0, byte);
    else if (kind === 'replace' && at < bytes.length) bytes[at] = byte;
    else if (kind === 'truncate') bytes = bytes.slice(0, at);
  }
  return Uint8Array.from(bytes);
}

describe('scanModel: properties against JSON.parse', () => {
  it('the reference agrees with JSON.parse on documents built with random whitespace and escapes', () => {
    fc.assert(
      fc.property(documentArb, ({ text, expected }) => {
        // The generator's own expectation is checked against JSON.parse first.
        const parsed: unknown = JSON.parse(text);
        expect(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)).toBe(true);
        if (expected.ok) expect(Reflect.get(Object(parsed), 'model')).toBe(expected.model);
        if (!expected.ok && expected.problem === 'missing_model')
          expect(Object.hasOwn(Object(parsed), 'model')).toBe(false);
        expect(scan(text)).toEqual(expected);
      }),
      { numRuns: runs(3_000) },
    );
  });

  it('agrees with JSON.parse on any fc.json() text and on objects holding a random model', () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 4 }), (text) => agreesWithJsonParse(Buffer.from(text))),
      { numRuns: runs(1_000) },
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 8 }), valueArb, { maxKeys: 5 }),
        fc.string({ unit: 'binary', maxLength: 40 }),
        (object, model) => {
          const text = JSON.stringify({ ...object, model });
          expect(scan(text)).toEqual({ ok: true, model });
          expect(scan(JSON.stringify(object, null, 2))).toEqual(
            reference(Buffer.from(JSON.stringify(object))),
          );
        },
      ),
      { numRuns: runs(1_000) },
    );
  });

  it('agrees with JSON.parse on byte-level mutations of valid documents', () => {
    fc.assert(
      fc.property(documentArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), ({ text }, mutations) =>
        agreesWithJsonParse(mutate(text, mutations)),
      ),
      { numRuns: runs(3_000) },
    );
  });

  it('agrees with JSON.parse on strings made of JSON punctuation and on arbitrary strings and bytes', () => {
    const jsonish = fc.string({
      unit: fc.constantFrom(
        '{',
        '}',
        '[',
        ']',
        '"',
        ':',
        ',',
        ' ',
        '\\',
        '/',
        '\\/',
        'u',
        '0',
        '1',
        '-',
        '.',
        'e',
        'model',
        'true',
        'null',
        '"model":',
        '"x"',
      ),
      maxLength: 30,
    });
    fc.assert(
      fc.property(jsonish, (text) => agreesWithJsonParse(Buffer.from(text))),
      { numRuns: runs(2_000) },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) =>
        agreesWithJsonParse(Buffer.from(text)),
      ),
      { numRuns: runs(500) },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => agreesWithJsonParse(bytes)),
      { numRuns: runs(500) },
    );
  });

  it('is never ok where JSON.parse fails', () => {
    fc.assert(
      fc.property(
        documentArb,
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        ({ text }, mutations) => {
          const body = mutate(text, mutations);
          let parses = true;
          try {
            JSON.parse(utf8.decode(body));
          } catch {
            parses = false;
          }
          if (!parses) expect(scanModel(Buffer.from(body)).ok).toBe(false);
        },
      ),
      { numRuns: runs(1_000) },
    );
  });
});
