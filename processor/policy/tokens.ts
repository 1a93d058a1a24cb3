// Gateway tokens are stored only as SHA-256 digests. A presented token is
// hashed, its digest looked up, and the stored digest compared in constant
// time. The lookup is keyed by the digest, never by the token: its timing can
// only tell an attacker about a digest they cannot invert.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface TokenGrant {
  /** A public name for logs and metrics; never the token itself. */
  readonly id: string;
  readonly workspace: string;
  /** Models this token may use; undefined means every Anthropic model in the catalog. */
  readonly models: ReadonlySet<string> | undefined;
}

export interface StoredToken extends TokenGrant {
  readonly sha256: Buffer;
}

export type TokenIndex = ReadonlyMap<string, StoredToken>;

export const TOKEN_PREFIX = 'agw_';

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function indexTokens(tokens: Iterable<StoredToken>): TokenIndex {
  const index = new Map<string, StoredToken>();
  for (const token of tokens) index.set(token.sha256.toString('base64'), token);
  return index;
}

export function verifyToken(index: TokenIndex, token: string): TokenGrant | undefined {
  const digest = hashToken(token);
  const stored = index.get(digest.toString('base64'));
  if (stored === undefined) return undefined;
  return timingSafeEqual(stored.sha256, digest) ? stored : undefined;
}

/** A new random token: 32 bytes of entropy, URL-safe, with a recognisable prefix. */
export function mintToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}
