import { describe, expect, it } from 'vitest';
import { compressedEncoding } from '../../processor/policy/content-encoding.ts';
import type { HeaderList } from '../../processor/policy/headers.ts';

const withEncodings = (...values: string[]): HeaderList => [
  [':method', 'POST'],
  ['content-type', 'application/json'],
  ...values.map((value): readonly [string, string] => ['content-encoding', value]),
];

describe('compressedEncoding', () => {
  it('is undefined without content-encoding, or with identity only', () => {
    expect(compressedEncoding(withEncodings())).toBeUndefined();
    for (const value of ['identity', ' IDENTITY ', 'identity, identity', '', ' , ']) {
      expect(compressedEncoding(withEncodings(value)), value).toBeUndefined();
    }
    expect(compressedEncoding(withEncodings('identity', 'Identity'))).toBeUndefined();
  });

  it('names every compression, in any case', () => {
    for (const value of ['gzip', 'GZIP', 'br', 'deflate', 'compress', 'zstd', 'x-gzip', 'made-up']) {
      expect(compressedEncoding(withEncodings(value)), value).toBe(value);
    }
  });

  it('finds a compression listed after identity, or in a second header', () => {
    expect(compressedEncoding(withEncodings('identity, gzip'))).toBe('identity, gzip');
    expect(compressedEncoding(withEncodings('identity', 'br'))).toBe('identity, br');
    expect(compressedEncoding(withEncodings('gzip', 'identity'))).toBe('gzip, identity');
  });
});
