// The processor's address, parsed once (processor/config/address.ts): what the
// configuration accepts, what it refuses and why, and the forms derived from it.
import { describe, expect, it } from 'vitest';
import {
  dialAddress,
  formatAddress,
  isHostName,
  parseAddress,
  tryParseAddress,
  withPort,
} from '../../processor/config/address.ts';
import { buildConfig } from '../../processor/config/load.ts';

const ENV = { ANTHROPIC_API_KEY: 'sk-ant-test', GATEWAY_TOKEN: 'agw_test' };

describe('parseAddress', () => {
  it('reads host:port, a bracketed IPv6 host and unix:/path', () => {
    expect(parseAddress('127.0.0.1:50051')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 50051 });
    expect(parseAddress('processor:50051')).toEqual({ kind: 'tcp', host: 'processor', port: 50051 });
    expect(parseAddress('[::1]:6000')).toEqual({ kind: 'tcp', host: '::1', port: 6000 });
    expect(parseAddress('[::]:0')).toEqual({ kind: 'tcp', host: '::', port: 0 });
    expect(parseAddress('unix:/run/gateway/processor.sock')).toEqual({
      kind: 'unix',
      path: '/run/gateway/processor.sock',
    });
    // A relative path is a path too: the processor binds it where it runs.
    expect(parseAddress('unix:processor.sock')).toEqual({ kind: 'unix', path: 'processor.sock' });
  });

  it('takes ports 0 (any free one) to 65535', () => {
    expect(parseAddress('127.0.0.1:0')).toMatchObject({ port: 0 });
    expect(parseAddress('127.0.0.1:65535')).toMatchObject({ port: 65535 });
  });

  it.each([
    ['', 'host:port'],
    ['127.0.0.1', 'host:port'],
    ['127.0.0.1:', 'port'],
    [':50051', 'host is missing'],
    ['127.0.0.1:65536', 'port'],
    ['127.0.0.1:-1', 'port'],
    ['127.0.0.1:5e4', 'port'],
    ['127.0.0.1:0x10', 'port'],
    ['127.0.0.1: 80', 'port'],
    ['127.0.0.1:123456', 'port'],
    ['::1:6000', 'brackets'],
    ['[::1:6000', 'brackets'],
    ['::1]:6000', 'brackets'],
    ['[]:6000', 'brackets'],
    ['[127.0.0.1]:6000', 'brackets'],
    ['[not-an-ip]:6000', 'brackets'],
    ['unix:', 'path'],
  ])('refuses %j (%s)', (text, why) => {
    const parsed = tryParseAddress(text);
    expect(typeof parsed).toBe('string');
    expect(parsed).toContain(why);
    expect(() => parseAddress(text)).toThrow(/not a host:port or unix:\/path address/);
  });
});

describe('the configuration', () => {
  it('parses processor.address, its default and GATEWAY_PROCESSOR_ADDRESS', () => {
    const defaults = buildConfig({}, ENV);
    expect(defaults.ok && defaults.config.settings.processor.address).toEqual({
      kind: 'tcp',
      host: '127.0.0.1',
      port: 50051,
    });
    const fromEnv = buildConfig({}, { ...ENV, GATEWAY_PROCESSOR_ADDRESS: 'unix:/tmp/p.sock' });
    expect(fromEnv.ok && fromEnv.config.settings.processor.address).toEqual({
      kind: 'unix',
      path: '/tmp/p.sock',
    });
  });

  it('names the field and the reason for an address it cannot use', () => {
    const result = buildConfig({ processor: { address: 'localhost:65536' } }, ENV);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toContain(
      'processor.address: the port must be a number from 0 to 65535',
    );
  });
});

describe('the derived forms', () => {
  it('formats an address back to its text, brackets and all', () => {
    for (const text of ['127.0.0.1:50051', 'processor:50051', '[::1]:6000', 'unix:/run/p.sock']) {
      expect(formatAddress(parseAddress(text))).toBe(text);
    }
  });

  it('fills in a bound port, not for a Unix socket', () => {
    expect(formatAddress(withPort(parseAddress('[::]:0'), 4000))).toBe('[::]:4000');
    expect(formatAddress(withPort(parseAddress('unix:/p.sock'), 4000))).toBe('unix:/p.sock');
    expect(formatAddress(withPort(parseAddress('127.0.0.1:0'), undefined))).toBe('127.0.0.1:0');
  });

  it('dials a wildcard listen address on this machine', () => {
    expect(formatAddress(dialAddress(parseAddress('0.0.0.0:50051')))).toBe('127.0.0.1:50051');
    expect(formatAddress(dialAddress(parseAddress('[::]:50051')))).toBe('[::1]:50051');
    expect(formatAddress(dialAddress(parseAddress('10.0.0.2:50051')))).toBe('10.0.0.2:50051');
    expect(formatAddress(dialAddress(parseAddress('unix:/p.sock')))).toBe('unix:/p.sock');
  });

  it('tells a host name (resolved to every replica) from an IP or a socket', () => {
    expect(isHostName(parseAddress('processor:50051'))).toBe(true);
    expect(isHostName(parseAddress('localhost:50051'))).toBe(true);
    expect(isHostName(parseAddress('127.0.0.1:50051'))).toBe(false);
    expect(isHostName(parseAddress('[::1]:50051'))).toBe(false);
    expect(isHostName(parseAddress('unix:/p.sock'))).toBe(false);
  });
});
