// Finding the caller's gateway token in the request headers. The TypeScript
// SDK 1.x and the Python SDK 2.x send `Authorization: Bearer`; older SDKs, cURL
// users and Claude Code with ANTHROPIC_API_KEY send `x-api-key` (docs/clients.md).
// Anything ambiguous is refused rather than guessed at: a token is accepted
// only when exactly one is presented.
import { type HeaderList, headerValues } from './headers.ts';

/** Longer values are refused before hashing: no real token is near this size. */
export const MAX_TOKEN_LENGTH = 512;

const BEARER = /^bearer +([^\s]+) *$/i;

export function presentedToken(headers: HeaderList): string | undefined {
  const apiKeys = headerValues(headers, 'x-api-key');
  const authorizations = headerValues(headers, 'authorization');
  if (apiKeys.length > 1 || authorizations.length > 1) return undefined;

  let bearer: string | undefined;
  if (authorizations.length === 1) {
    bearer = BEARER.exec(authorizations[0] as string)?.[1];
    if (bearer === undefined) return undefined; // Basic, a bare token, an empty value…
  }
  const apiKey = apiKeys[0]?.trim();
  if (apiKey !== undefined && bearer !== undefined && apiKey !== bearer) return undefined;

  const token = bearer ?? apiKey;
  if (token === undefined || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    return undefined;
  }
  return token;
}
