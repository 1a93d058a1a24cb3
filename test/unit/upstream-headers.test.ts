import { describe, expect, it } from 'vitest';
import type { HeaderList } from '../../processor/policy/headers.ts';
import {
  FORWARDED_HEADERS,
  headersToRemove,
  UPSTREAM_CREDENTIAL_HEADER,
} from '../../processor/policy/upstream-headers.ts';

const KEPT: HeaderList = [
  [':method', 'POST'],
  [':path', '/ai-gateway/anthropic/v1/messages'],
  [':authority', 'gateway.example'],
  [':scheme', 'https'],
  ['host', 'gateway.example'],
  ['content-length', '42'],
  ['accept', 'application/json'],
  ['anthropic-beta', 'prompt-caching-2024-07-31'],
  ['anthropic-beta', 'interleaved-thinking-2025-05-14'],
  ['anthropic-version', '2023-06-01'],
  ['content-type', 'application/json'],
  ['user-agent', 'Anthropic/JS 1.10.0'],
  ['x-api-key', 'agw_client_token'],
];

const REMOVED: HeaderList = [
  ['authorization', 'Bearer agw_client_token'],
  ['cookie', 'session=1'],
  ['x-forwarded-for', '203.0.113.9'],
  ['x-forwarded-proto', 'https'],
  ['x-real-ip', '203.0.113.9'],
  ['x-request-id', 'abc'],
  ['x-envoy-foo', 'bar'],
  ['x-envoy-upstream-rq-timeout-ms', '1'],
  ['x-stainless-os', 'Linux'],
  ['x-stainless-retry-count', '0'],
  ['anthropic-dangerous-direct-browser-access', 'true'],
  ['proxy-authorization', 'Basic x'],
  ['forwarded', 'for=1.2.3.4'],
  ['accept-encoding', 'gzip'],
  ['te', 'trailers'],
  ['via', '1.1 proxy'],
  ['x-custom', '1'],
];

describe('headersToRemove', () => {
  it('allowlists exactly the five forwarded headers', () => {
    expect([...FORWARDED_HEADERS].sort()).toEqual([
      'accept',
      'anthropic-beta',
      'anthropic-version',
      'content-type',
      'user-agent',
    ]);
    expect(UPSTREAM_CREDENTIAL_HEADER).toBe('x-api-key');
  });

  it('keeps pseudo-headers, host, content-length, the allowlist and x-api-key', () => {
    expect(headersToRemove(KEPT)).toEqual([]);
  });

  it('removes everything else, in arrival order', () => {
    const remove = headersToRemove([...KEPT, ...REMOVED]);
    expect(remove).toEqual(REMOVED.map(([name]) => name));
  });

  it('names each removed header once even when it arrived several times', () => {
    const remove = headersToRemove([
      ['cookie', 'a'],
      ['x-forwarded-for', '1.1.1.1'],
      ['cookie', 'b'],
      ['x-forwarded-for', '2.2.2.2'],
      ['authorization', 'Bearer a'],
      ['authorization', 'Bearer b'],
    ]);
    expect(remove).toEqual(['cookie', 'x-forwarded-for', 'authorization']);
  });

  it('removes near-misses of allowlisted names', () => {
    expect(
      headersToRemove([
        ['x-anthropic-version', '1'],
        ['content-type2', 'x'],
        ['accept-language', 'en'],
        ['hostname', 'x'],
      ]),
    ).toEqual(['x-anthropic-version', 'content-type2', 'accept-language', 'hostname']);
  });

  it('returns nothing for no headers', () => {
    expect(headersToRemove([])).toEqual([]);
  });
});
