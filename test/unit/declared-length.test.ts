import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkDeclaredLength } from '../../processor/policy/declared-length.ts';
import type { HeaderList } from '../../processor/policy/headers.ts';

const LIMIT = 32 * 1024 * 1024;
const withLengths = (...values: string[]): HeaderList => [
  [':method', 'POST'],
  ['content-type', 'application/json'],
  ...values.map((value): readonly [string, string] => ['content-length', value]),
];
const statusOf = (...values: string[]) => checkDeclaredLength(withLengths(...values), LIMIT)?.status;

describe('checkDeclaredLength', () => {
  it('accepts no content-length (chunked, or no body), and any length up to the limit', () => {
    expect(statusOf()).toBeUndefined();
    for (const value of ['0', '1', '115000', String(LIMIT - 1), String(LIMIT), ` ${LIMIT} `]) {
      expect(statusOf(value), value).toBeUndefined();
    }
  });

  it('refuses a length over the limit with 413 request_too_large, in the words of Envoy’s own 413', () => {
    expect(checkDeclaredLength(withLengths(String(LIMIT + 1)), LIMIT)).toEqual({
      status: 413,
      type: 'request_too_large',
      message: "request body is larger than the gateway's limit of 32 MiB",
      reason: 'request_too_large',
    });
  });

  it('reads leading zeros and any number of digits exactly, without rounding', () => {
    expect(statusOf(`0000${LIMIT}`)).toBeUndefined();
    expect(statusOf(`${'0'.repeat(40)}${LIMIT + 1}`)).toBe(413);
    expect(statusOf('9223372036854775807')).toBe(413);
    expect(statusOf('18446744073709551616')).toBe(413);
    expect(statusOf('9'.repeat(5000))).toBe(413);
    // 2^53 + 1 rounds to 2^53 as a JavaScript number.
    expect(checkDeclaredLength(withLengths('9007199254740993'), 9007199254740992)?.status).toBe(413);
    expect(checkDeclaredLength(withLengths('9007199254740992'), 9007199254740992)).toBeUndefined();
  });

  it('refuses with 400 what is not one decimal number (Envoy refuses these first)', () => {
    for (const values of [
      ['+5'],
      ['-1'],
      ['0x10'],
      ['1e3'],
      ['5, 5'],
      [''],
      ['١٢'],
      ['5', '5'],
      ['5', '6'],
    ]) {
      const error = checkDeclaredLength(withLengths(...values), LIMIT);
      expect(error?.status, JSON.stringify(values)).toBe(400);
      expect(error?.type).toBe('invalid_request_error');
    }
  });

  it('agrees with BigInt on every decimal string, against any limit', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9]{1,40}$/),
        fc.integer({ min: 1024 * 1024, max: Number.MAX_SAFE_INTEGER }),
        (value, limit) => {
          const error = checkDeclaredLength(withLengths(value), limit);
          expect(error?.status).toBe(BigInt(value) > BigInt(limit) ? 413 : undefined);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
