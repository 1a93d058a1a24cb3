// A processor that decides like the real one but never reads Envoy's
// access-log stream (a fixture, never product code): it accepts the stream
// and leaves its bytes unread, so HTTP/2 flow control stalls it and Envoy has
// to hold the entries itself. The tests use it to prove that no request
// ever waits for the access log.
import type { ServerHttp2Stream } from 'node:http2';
import { loadAccessLogService } from '../../processor/accesslog/protos.ts';
import { parseAddress } from '../../processor/config/address.ts';
import type { LoadedConfig } from '../../processor/config/load.ts';
import { createPolicyStreamHandler } from '../../processor/extproc/policy-stream.ts';
import { extProcMethod } from '../../processor/extproc/server.ts';
import { type Method, startGrpcServer } from '../../processor/grpc/server.ts';
import { createLogger } from '../../processor/log.ts';

export interface DeafProcessor {
  readonly address: string;
  /** How many access-log streams Envoy opened (and were left unread). */
  readonly accessLogStreams: () => number;
  stop(): void;
}

export async function startDeafProcessor(config: LoadedConfig): Promise<DeafProcessor> {
  const streams: ServerHttp2Stream[] = [];
  const [policyPath, policy] = extProcMethod(
    createPolicyStreamHandler({
      policy: () => config.policy,
      log: createLogger('silent'),
      limits: { maxRequestBodyBytes: config.settings.limits.max_request_body_bytes },
    }),
  );
  const deaf: Method = {
    open: (stream) => {
      streams.push(stream);
      stream.on('error', () => {});
      stream.pause();
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    },
  };
  const path = loadAccessLogService().StreamAccessLogs?.path ?? '';
  const server = await startGrpcServer({
    address: parseAddress('127.0.0.1:0'),
    maxMessageBytes: 64 * 1024 * 1024,
    methods: { [policyPath]: policy, [path]: deaf },
  });
  return {
    address: `127.0.0.1:${server.port}`,
    accessLogStreams: () => streams.length,
    stop: () => server.forceShutdown(),
  };
}
