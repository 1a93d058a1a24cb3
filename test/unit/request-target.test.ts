import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWellFormedTarget } from '../../processor/policy/request-target.ts';

/** The rule as written in docs/security.md, byte by byte: visible ASCII, `#` excepted. */
const allowedByte = (byte: number) => byte >= 0x21 && byte <= 0x7e && byte !== 0x23;
const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');

describe('isWellFormedTarget', () => {
  it('accepts the targets clients send, query and percent-escapes included', () => {
    for (const target of [
      '/ai-gateway/anthropic/v1/messages',
      '/ai-gateway/anthropic/v1/messages?beta=true',
      '/ai-gateway/anthropic/v1/models?limit=2&after_id=x',
      '/ai-gateway/anthropic/v1/messages?q=%C3%A9&x=a|b{c}"d"',
      '',
    ]) {
      expect(isWellFormedTarget(target), target).toBe(true);
    }
  });

  it('refuses raw UTF-8, controls, DEL, space and # anywhere', () => {
    for (const raw of [
      [0xc3, 0xa9],
      [0x80],
      [0xff],
      [0x00],
      [0x01],
      [0x09],
      [0x0a],
      [0x7f],
      [0x20],
      [0x23],
    ]) {
      const bytes = Buffer.from(raw);
      for (const target of [
        `/ai-gateway/anthropic/v1/messages?q=${bytes.toString('latin1')}`,
        `/ai-gateway/anthropic/v1/mess${bytes.toString('latin1')}ages`,
      ]) {
        expect(isWellFormedTarget(target), JSON.stringify(target)).toBe(false);
      }
    }
  });

  it('accepts exactly the byte strings made of allowed bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(isWellFormedTarget(latin1(bytes))).toBe(bytes.every(allowedByte));
      }),
      { numRuns: 5_000 },
    );
  });

  it('refuses a well-formed target with one bad byte put anywhere in it', () => {
    const bad = fc.integer({ min: 0, max: 255 }).filter((byte) => !allowedByte(byte));
    const good = fc.uint8Array({ maxLength: 40 }).map((bytes) => bytes.filter(allowedByte));
    fc.assert(
      fc.property(good, bad, fc.nat(), (bytes, byte, at) => {
        const position = bytes.length === 0 ? 0 : at % (bytes.length + 1);
        const target = Buffer.concat([
          bytes.subarray(0, position),
          Buffer.from([byte]),
          bytes.subarray(position),
        ]);
        expect(isWellFormedTarget(target.toString('latin1'))).toBe(false);
      }),
      { numRuns: 2_000 },
    );
  });
});
