import { describe, expect, it } from 'vitest';
import { BASE_PATH, matchRoute } from '../../processor/policy/routes.ts';

describe('matchRoute', () => {
  it('serves the two upstream routes under the base path', () => {
    expect(BASE_PATH).toBe('/ai-gateway/anthropic');
    expect(matchRoute('POST', '/ai-gateway/anthropic/v1/messages')).toEqual({
      kind: 'upstream',
      route: 'messages',
    });
    expect(matchRoute('POST', '/ai-gateway/anthropic/v1/messages/count_tokens')).toEqual({
      kind: 'upstream',
      route: 'count_tokens',
    });
  });

  it('ignores the query string when matching', () => {
    expect(matchRoute('POST', '/ai-gateway/anthropic/v1/messages?beta=true')).toEqual({
      kind: 'upstream',
      route: 'messages',
    });
    expect(matchRoute('POST', '/ai-gateway/anthropic/v1/messages/count_tokens?a=1&b=2')).toEqual({
      kind: 'upstream',
      route: 'count_tokens',
    });
    expect(matchRoute('POST', '/ai-gateway/anthropic/v1/messages?')).toEqual({
      kind: 'upstream',
      route: 'messages',
    });
  });

  it('answers 404 not_found_error for other paths under the prefix', () => {
    for (const path of [
      '/ai-gateway/anthropic',
      '/ai-gateway/anthropic/',
      '/ai-gateway/anthropic/v1/models',
      '/ai-gateway/anthropic/v1/messages/',
      '/ai-gateway/anthropic/v1/messages/batches',
      '/ai-gateway/anthropic/v1/complete',
      '/ai-gateway/anthropic/v1/Messages',
      '/ai-gateway/anthropic/v1/messages/count_tokens/x',
    ]) {
      const match = matchRoute('POST', path);
      expect(match.kind, path).toBe('error');
      if (match.kind === 'error') {
        expect(match.error.status, path).toBe(404);
        expect(match.error.type, path).toBe('not_found_error');
      }
    }
  });

  it('answers 404 for paths outside the prefix, without the query in the message', () => {
    for (const path of [
      '/',
      '/v1/messages',
      '/ai-gateway/openai/v1/chat/completions',
      '/ai-gateway/anthropicv1/messages',
      '',
    ]) {
      const match = matchRoute('POST', path);
      expect(match.kind === 'error' ? match.error.status : 200, path).toBe(404);
    }
    const match = matchRoute('POST', '/nope?secret=1');
    expect(match.kind === 'error' ? match.error.message : '').toBe(
      '/nope is not an endpoint of this gateway',
    );
  });

  it('answers 405 with allow: POST for another method on a known route', () => {
    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'post']) {
      for (const path of [
        '/ai-gateway/anthropic/v1/messages',
        '/ai-gateway/anthropic/v1/messages/count_tokens?x=1',
      ]) {
        const match = matchRoute(method, path);
        expect(match.kind, `${method} ${path}`).toBe('error');
        if (match.kind === 'error') {
          expect(match.error.status).toBe(405);
          expect(match.error.type).toBe('invalid_request_error');
          expect(match.error.headers).toEqual({ allow: 'POST' });
        }
      }
    }
  });

  it('answers 404 for a request without a path (CONNECT), saying so', () => {
    expect(matchRoute('CONNECT', '')).toEqual({
      kind: 'error',
      error: expect.objectContaining({
        status: 404,
        message: 'a CONNECT request without a path is not an endpoint of this gateway',
      }),
    });
  });

  it('answers 404 rather than 405 for another method on an unknown path', () => {
    const match = matchRoute('GET', '/ai-gateway/anthropic/v1/models');
    expect(match.kind === 'error' ? match.error.status : 200).toBe(404);
  });
});
