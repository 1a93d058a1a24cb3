import { describe, expect, it } from 'vitest';
import { suggestedBaseUrl } from '../../processor/policy/base-url.ts';

describe('suggestedBaseUrl', () => {
  it('uses the scheme and host the client used', () => {
    expect(
      suggestedBaseUrl([
        [':scheme', 'http'],
        [':authority', 'localhost:8080'],
      ]),
    ).toBe('http://localhost:8080/ai-gateway/anthropic');
    expect(
      suggestedBaseUrl([
        [':authority', '[::1]:8443'],
        [':scheme', 'https'],
      ]),
    ).toBe('https://[::1]:8443/ai-gateway/anthropic');
    expect(suggestedBaseUrl([['host', 'gw.example.com']])).toBe(
      'http(s)://gw.example.com/ai-gateway/anthropic',
    );
  });

  it('prefers x-forwarded-proto, which a TLS load balancer sets', () => {
    expect(
      suggestedBaseUrl([
        [':scheme', 'http'],
        ['x-forwarded-proto', 'https'],
        [':authority', 'gw.example.com'],
      ]),
    ).toBe('https://gw.example.com/ai-gateway/anthropic');
  });

  it('never repeats a host or scheme that is not one', () => {
    for (const authority of [
      'evil.example/<script>',
      'a b',
      'x'.repeat(300),
      'host\r\nset-cookie: x',
      'user@host',
      '-leading.dash',
      '',
    ]) {
      expect(
        suggestedBaseUrl([
          [':scheme', 'javascript'],
          [':authority', authority],
        ]),
        authority,
      ).toBe('http(s)://<gateway-host>/ai-gateway/anthropic');
    }
    expect(suggestedBaseUrl([])).toBe('http(s)://<gateway-host>/ai-gateway/anthropic');
  });
});
