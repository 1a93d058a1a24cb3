import { describe, expect, it } from 'vitest';
import { BASE_PATH } from '../../processor/contract/routes.ts';
import { matchRoute } from '../../processor/policy/routes.ts';

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

  it('tells a client whose base URL lacks the prefix which base URL to use', () => {
    const base = () => 'http://localhost:8080/ai-gateway/anthropic';
    for (const path of [
      '/v1/messages',
      '/v1/models',
      '/anthropic/v1/messages',
      '/v1',
      '/ai-gateway/v1/x?y=1',
    ]) {
      const match = matchRoute('POST', path, base);
      expect(match.kind === 'error' ? match.error : undefined, path).toEqual({
        status: 404,
        type: 'not_found_error',
        message: `${path.split('?')[0]} is not an endpoint of this gateway; set your client's base URL to http://localhost:8080/ai-gateway/anthropic (the SDKs append /v1/messages themselves)`,
        reason: 'wrong_base_url',
      });
    }
    // Without a /v1 segment it is no API path: no hint.
    for (const path of ['/', '/nope', '/ai-gateway/anthropicv1/messages', '/v10/messages']) {
      const match = matchRoute('POST', path, base);
      expect(match.kind === 'error' ? match.error.reason : '', path).toBe('not_found');
    }
  });

  it('tells a client whose base URL ends in /v1 to drop it', () => {
    const base = () => 'https://gw.example/ai-gateway/anthropic';
    for (const [path, relative] of [
      ['/ai-gateway/anthropic/v1/v1/messages?beta=true', '/v1/v1/messages'],
      ['/ai-gateway/anthropic/v1/v1/models', '/v1/v1/models'],
    ] as const) {
      const match = matchRoute('POST', path, base);
      expect(match.kind === 'error' ? match.error : undefined, path).toMatchObject({
        status: 404,
        type: 'not_found_error',
        message: `${relative} is not an endpoint of this gateway: the base URL must not end in /v1; set your client's base URL to https://gw.example/ai-gateway/anthropic`,
        reason: 'wrong_base_url',
      });
    }
  });

  it('asks for the base URL to suggest only when it is needed', () => {
    let asked = 0;
    const base = () => {
      asked += 1;
      return 'x';
    };
    matchRoute('POST', '/ai-gateway/anthropic/v1/messages', base);
    matchRoute('POST', '/nope', base);
    expect(asked).toBe(0);
    matchRoute('POST', '/v1/messages', base);
    expect(asked).toBe(1);
  });

  it('answers 405 with allow: POST for another method on a known route', () => {
    for (const method of ['GET', 'PUT', 'DELETE', 'OPTIONS', 'post']) {
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

  it('answers 400, as Envoy does over HTTP/1.1, for a target with a raw byte that must be escaped', () => {
    for (const path of [
      '/ai-gateway/anthropic/v1/messages?q=\u00c3\u00a9',
      '/nope?\u0080',
      '/a b',
      '/x\u007f',
    ]) {
      expect(matchRoute('POST', path), JSON.stringify(path)).toEqual({
        kind: 'error',
        error: {
          status: 400,
          type: 'invalid_request_error',
          message: 'malformed HTTP request',
          reason: 'malformed_target',
        },
      });
    }
  });

  it('answers 404 rather than 405 for another method on an unknown path', () => {
    const match = matchRoute('GET', '/ai-gateway/anthropic/v1/complete');
    expect(match.kind === 'error' ? match.error.status : 200).toBe(404);
  });
});

describe('matchRoute: the models listing', () => {
  it('matches GET /v1/models with its query, and GET /v1/models/{id} decoded', () => {
    expect(matchRoute('GET', '/ai-gateway/anthropic/v1/models')).toEqual({
      kind: 'models',
      modelId: undefined,
      query: '',
    });
    expect(matchRoute('GET', '/ai-gateway/anthropic/v1/models?limit=2&after_id=x')).toEqual({
      kind: 'models',
      modelId: undefined,
      query: 'limit=2&after_id=x',
    });
    expect(matchRoute('GET', '/ai-gateway/anthropic/v1/models/claude-haiku-4-5?beta=true')).toEqual({
      kind: 'models',
      modelId: 'claude-haiku-4-5',
      query: 'beta=true',
    });
    expect(matchRoute('GET', '/ai-gateway/anthropic/v1/models/claude%2Dx')).toMatchObject({
      modelId: 'claude-x',
    });
  });

  it('answers 404 for an empty, nested or undecodable model id', () => {
    for (const path of [
      '/ai-gateway/anthropic/v1/models/',
      '/ai-gateway/anthropic/v1/models/a/b',
      '/ai-gateway/anthropic/v1/models/%E0%A4%A',
    ]) {
      const match = matchRoute('GET', path);
      expect(match.kind === 'error' ? match.error.status : 200, path).toBe(404);
    }
  });

  it('answers 405 with allow: GET for another method', () => {
    for (const [method, path] of [
      ['POST', '/ai-gateway/anthropic/v1/models'],
      ['DELETE', '/ai-gateway/anthropic/v1/models/claude-haiku-4-5'],
      ['HEAD', '/ai-gateway/anthropic/v1/models/claude-haiku-4-5'],
    ] as const) {
      const match = matchRoute(method, path);
      expect(match.kind === 'error' ? match.error.headers : undefined, `${method} ${path}`).toEqual({
        allow: 'GET',
      });
    }
  });
});

describe('matchRoute: HEAD probes', () => {
  it('answers HEAD on the base URL, /api/hello and the served endpoints as a probe', () => {
    for (const path of [
      '/ai-gateway/anthropic',
      '/ai-gateway/anthropic/',
      '/ai-gateway/anthropic/api/hello',
      '/ai-gateway/anthropic/v1/messages',
      '/ai-gateway/anthropic/v1/messages?beta=true',
      '/ai-gateway/anthropic/v1/messages/count_tokens',
      '/ai-gateway/anthropic/v1/models',
    ]) {
      expect(matchRoute('HEAD', path), path).toEqual({ kind: 'probe' });
    }
  });

  it('does not treat HEAD elsewhere, or GET on the probe paths, as a probe', () => {
    for (const [method, path] of [
      ['HEAD', '/'],
      ['HEAD', '/ai-gateway/anthropic/v1/complete'],
      ['HEAD', '/ai-gateway/anthropic/api/other'],
      ['GET', '/ai-gateway/anthropic'],
      ['GET', '/ai-gateway/anthropic/api/hello'],
    ] as const) {
      expect(matchRoute(method, path).kind, `${method} ${path}`).toBe('error');
    }
  });
});

describe('matchRoute: Anthropic endpoints the gateway does not serve', () => {
  it('says the endpoint is not available through this gateway, and what it serves', () => {
    for (const path of [
      '/ai-gateway/anthropic/v1/messages/batches',
      '/ai-gateway/anthropic/v1/messages/batches/msgbatch_01/results',
      '/ai-gateway/anthropic/v1/complete',
      '/ai-gateway/anthropic/v1/files',
      '/ai-gateway/anthropic/v1/skills?beta=true',
    ]) {
      const match = matchRoute('POST', path);
      expect(match.kind, path).toBe('error');
      if (match.kind === 'error') {
        expect(match.error).toMatchObject({
          status: 404,
          type: 'not_found_error',
          reason: 'endpoint_not_served',
        });
        const relative = path.slice('/ai-gateway/anthropic'.length).split('?')[0] ?? '';
        expect(match.error.message).toBe(
          `${relative} is not available through this gateway; it serves POST /v1/messages, POST /v1/messages/count_tokens and GET /v1/models`,
        );
      }
    }
  });
});
