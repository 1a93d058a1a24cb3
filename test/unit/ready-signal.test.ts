// The listening signal a processor sends its launcher (processor/lifecycle/ready-signal.ts):
// what the launcher accepts as one, and the bound address it carries.
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../processor/config/address.ts';
import { boundAddress, listeningSignal } from '../../processor/lifecycle/ready-signal.ts';

describe('the listening signal', () => {
  it('carries the address and, when metrics are on, their port', () => {
    expect(listeningSignal({ type: 'listening', address: '127.0.0.1:40123', metricsPort: 9464 })).toEqual({
      address: '127.0.0.1:40123',
      metricsPort: 9464,
    });
    expect(listeningSignal({ type: 'listening', address: 'unix:/run/gw/processor.sock' })).toEqual({
      address: 'unix:/run/gw/processor.sock',
      metricsPort: undefined,
    });
  });

  it('is not any other message', () => {
    for (const message of [null, 'listening', { type: 'listening' }, { type: 'ready', address: 'x:1' }]) {
      expect(listeningSignal(message)).toBeUndefined();
    }
  });
});

describe('boundAddress', () => {
  it('fills in the port bound for a configured 0, and keeps a Unix socket as it is', () => {
    expect(boundAddress(parseAddress('127.0.0.1:0'), 40123)).toBe('127.0.0.1:40123');
    expect(boundAddress(parseAddress('[::1]:0'), 40123)).toBe('[::1]:40123');
    expect(boundAddress(parseAddress('unix:/run/gw/processor.sock'), undefined)).toBe(
      'unix:/run/gw/processor.sock',
    );
  });
});
