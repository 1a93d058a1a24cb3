import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  hashToken,
  indexTokens,
  mintToken,
  type StoredToken,
  TOKEN_PREFIX,
  verifyToken,
} from '../../processor/policy/tokens.ts';

const stored = (id: string, token: string, workspace = 'default', models?: string[]): StoredToken => ({
  id,
  workspace,
  models: models === undefined ? undefined : new Set(models),
  sha256: hashToken(token),
});

describe('hashToken', () => {
  it('is the SHA-256 of the UTF-8 token', () => {
    for (const token of ['agw_abc', '', 'ünïcødé-😀', 'x'.repeat(1000)]) {
      const expected = createHash('sha256').update(Buffer.from(token, 'utf8')).digest();
      expect(hashToken(token).equals(expected), token).toBe(true);
      expect(hashToken(token)).toHaveLength(32);
    }
    expect(hashToken('abc').toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});

describe('verifyToken', () => {
  const index = indexTokens([
    stored('alice', 'agw_alice_secret', 'team-a', ['claude-sonnet-4-6']),
    stored('bob', 'agw_bob_secret', 'team-b'),
  ]);

  it('finds the grant of a known token', () => {
    const grant = verifyToken(index, 'agw_alice_secret');
    expect(grant?.id).toBe('alice');
    expect(grant?.workspace).toBe('team-a');
    expect([...(grant?.models ?? [])]).toEqual(['claude-sonnet-4-6']);
    const bob = verifyToken(index, 'agw_bob_secret');
    expect(bob?.id).toBe('bob');
    expect(bob?.models).toBeUndefined();
  });

  it('rejects a wrong token', () => {
    expect(verifyToken(index, 'agw_mallory')).toBeUndefined();
    expect(verifyToken(index, '')).toBeUndefined();
  });

  it('rejects tokens that share a prefix with a real one, or differ in case or whitespace', () => {
    for (const token of [
      'agw_alice_secre',
      'agw_alice_secret2',
      'agw_alice',
      'AGW_ALICE_SECRET',
      ' agw_alice_secret',
    ]) {
      expect(verifyToken(index, token), token).toBeUndefined();
    }
  });

  it('rejects the stored digest presented as a token', () => {
    expect(verifyToken(index, hashToken('agw_alice_secret').toString('hex'))).toBeUndefined();
    expect(verifyToken(index, hashToken('agw_alice_secret').toString('base64'))).toBeUndefined();
  });

  it('finds nothing in an empty index', () => {
    expect(verifyToken(indexTokens([]), 'agw_alice_secret')).toBeUndefined();
  });
});

describe('mintToken', () => {
  it('has the agw_ prefix and 32 random bytes, URL-safe', () => {
    const token = mintToken();
    expect(TOKEN_PREFIX).toBe('agw_');
    expect(token.startsWith('agw_')).toBe(true);
    const body = token.slice(TOKEN_PREFIX.length);
    expect(body).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(body, 'base64url')).toHaveLength(32);
  });

  it('differs on every call', () => {
    const tokens = new Set(Array.from({ length: 100 }, () => mintToken()));
    expect(tokens.size).toBe(100);
  });

  it('mints tokens that verify once stored', () => {
    const token = mintToken();
    expect(verifyToken(indexTokens([stored('new', token)]), token)?.id).toBe('new');
  });
});
