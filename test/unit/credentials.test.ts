import { describe, expect, it } from 'vitest';
import { MAX_TOKEN_LENGTH, presentedToken } from '../../processor/policy/credentials.ts';
import type { HeaderList } from '../../processor/policy/headers.ts';

const TOKEN = 'agw_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';
const base: HeaderList = [
  [':method', 'POST'],
  [':path', '/ai-gateway/anthropic/v1/messages'],
  ['content-type', 'application/json'],
];
const withHeaders = (...extra: Array<readonly [string, string]>): HeaderList => [...base, ...extra];

describe('presentedToken', () => {
  it('reads x-api-key alone', () => {
    expect(presentedToken(withHeaders(['x-api-key', TOKEN]))).toBe(TOKEN);
  });

  it('trims whitespace around an x-api-key value', () => {
    expect(presentedToken(withHeaders(['x-api-key', `  ${TOKEN} `]))).toBe(TOKEN);
  });

  it('reads Authorization: Bearer alone', () => {
    expect(presentedToken(withHeaders(['authorization', `Bearer ${TOKEN}`]))).toBe(TOKEN);
  });

  it('accepts the scheme in any case and extra spaces around the token', () => {
    expect(presentedToken(withHeaders(['authorization', `bearer ${TOKEN}`]))).toBe(TOKEN);
    expect(presentedToken(withHeaders(['authorization', `BEARER ${TOKEN}`]))).toBe(TOKEN);
    expect(presentedToken(withHeaders(['authorization', `Bearer    ${TOKEN}`]))).toBe(TOKEN);
    expect(presentedToken(withHeaders(['authorization', `Bearer ${TOKEN}  `]))).toBe(TOKEN);
  });

  it('rejects other schemes and malformed Authorization values', () => {
    for (const value of [
      `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`,
      `Token ${TOKEN}`,
      TOKEN,
      'Bearer',
      'Bearer ',
      `Bearer ${TOKEN} extra`,
      `Bearer${TOKEN}`,
      '',
    ]) {
      expect(presentedToken(withHeaders(['authorization', value])), value).toBeUndefined();
    }
  });

  it('rejects Basic even when x-api-key carries a token', () => {
    expect(
      presentedToken(withHeaders(['x-api-key', TOKEN], ['authorization', `Basic ${TOKEN}`])),
    ).toBeUndefined();
  });

  it('accepts both headers when they carry the same token', () => {
    expect(presentedToken(withHeaders(['x-api-key', TOKEN], ['authorization', `Bearer ${TOKEN}`]))).toBe(
      TOKEN,
    );
  });

  it('rejects both headers with different tokens', () => {
    expect(
      presentedToken(withHeaders(['x-api-key', TOKEN], ['authorization', `Bearer ${TOKEN}x`])),
    ).toBeUndefined();
    expect(
      presentedToken(withHeaders(['x-api-key', ''], ['authorization', `Bearer ${TOKEN}`])),
    ).toBeUndefined();
  });

  it('rejects a repeated x-api-key or authorization header, even with equal values', () => {
    expect(presentedToken(withHeaders(['x-api-key', TOKEN], ['x-api-key', TOKEN]))).toBeUndefined();
    expect(presentedToken(withHeaders(['x-api-key', TOKEN], ['x-api-key', 'other']))).toBeUndefined();
    expect(
      presentedToken(withHeaders(['authorization', `Bearer ${TOKEN}`], ['authorization', `Bearer ${TOKEN}`])),
    ).toBeUndefined();
  });

  it('rejects no credential at all', () => {
    expect(presentedToken(base)).toBeUndefined();
    expect(presentedToken([])).toBeUndefined();
  });

  it('rejects an empty or blank x-api-key', () => {
    expect(presentedToken(withHeaders(['x-api-key', '']))).toBeUndefined();
    expect(presentedToken(withHeaders(['x-api-key', '   ']))).toBeUndefined();
  });

  it(`accepts a token of ${MAX_TOKEN_LENGTH} characters and rejects a longer one`, () => {
    const longest = 'a'.repeat(MAX_TOKEN_LENGTH);
    const tooLong = 'a'.repeat(MAX_TOKEN_LENGTH + 1);
    expect(presentedToken(withHeaders(['x-api-key', longest]))).toBe(longest);
    expect(presentedToken(withHeaders(['authorization', `Bearer ${longest}`]))).toBe(longest);
    expect(presentedToken(withHeaders(['x-api-key', tooLong]))).toBeUndefined();
    expect(presentedToken(withHeaders(['authorization', `Bearer ${tooLong}`]))).toBeUndefined();
  });

  it('does not read credentials from other headers', () => {
    expect(presentedToken(withHeaders(['proxy-authorization', `Bearer ${TOKEN}`]))).toBeUndefined();
    expect(presentedToken(withHeaders(['x-api-key-2', TOKEN]))).toBeUndefined();
    expect(presentedToken(withHeaders(['cookie', `token=${TOKEN}`]))).toBeUndefined();
  });
});
