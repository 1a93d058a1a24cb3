import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { privateProcessorSocket } from '../../scripts/processor-socket.ts';

describe('privateProcessorSocket (npm start without configuration)', () => {
  it('puts the processor on a Unix socket in a private folder, removed on request', () => {
    const socket = privateProcessorSocket({});
    if (socket === undefined) throw new Error('expected a socket');
    expect(socket.address).toMatch(/^unix:\/.*\/processor\.sock$/);
    const dir = dirname(socket.address.slice('unix:'.length));
    expect(existsSync(dir)).toBe(true);
    socket.remove();
    expect(existsSync(dir)).toBe(false);
  });

  it('leaves a configured address alone: a configuration file or GATEWAY_PROCESSOR_ADDRESS', () => {
    expect(privateProcessorSocket({ GATEWAY_CONFIG: '/etc/gateway.yaml' })).toBeUndefined();
    expect(privateProcessorSocket({ GATEWAY_PROCESSOR_ADDRESS: '127.0.0.1:50051' })).toBeUndefined();
  });
});
