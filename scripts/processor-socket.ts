// Where `npm start` puts the processor when nothing says where: a Unix socket
// in a private temporary folder. Envoy and the processor then share the host
// by construction, and a Unix socket costs both sides less than loopback TCP
// (about a tenth of the processor's CPU per request; docs/benchmarks.md).
// With a configuration file or GATEWAY_PROCESSOR_ADDRESS, the configured
// address (default 127.0.0.1:50051) is used as before.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ProcessorSocket {
  /** The value for GATEWAY_PROCESSOR_ADDRESS: unix:/tmp/.../processor.sock */
  readonly address: string;
  remove(): void;
}

/** A private socket for a zero-configuration start, or undefined when the address is configured. */
export function privateProcessorSocket(
  env: Readonly<Record<string, string | undefined>>,
): ProcessorSocket | undefined {
  if (env.GATEWAY_CONFIG || env.GATEWAY_PROCESSOR_ADDRESS) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'anthropic-gateway-'));
  return {
    address: `unix:${join(dir, 'processor.sock')}`,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
