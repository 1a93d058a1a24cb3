// The gateway's processor on grpc-js's server, for the benchmark only: the
// same configuration, policy, quotas, metrics, access lines and handlers as
// processor/main.ts, served by @grpc/grpc-js's Server (the library the
// processor used before commit 95c0d6b) instead of processor/grpc/. The
// variant `gateway-grpc-js` of bench/variants.ts runs it behind the
// gateway's Envoy, so that the two servers are compared on the whole
// gateway, not on an empty processor: "The gRPC server rule" in
// docs/benchmarks.md. Only what a request pays for is here; no live
// configuration, no graceful shutdown.
//
// Run as `node bench/lib/grpc-js-gateway.ts` with the processor's
// environment, by scripts/processor-child.ts: it sends the launcher the
// processor's listening signal (processor/lifecycle/ready-signal.ts).
import type { ServerDuplexStream, ServerReadableStream, sendUnaryData } from '@grpc/grpc-js';
import { loadAccessLogService } from '../../processor/accesslog/protos.ts';
import { type AccessLogCall, createAccessLogService } from '../../processor/accesslog/service.ts';
import { formatAddress } from '../../processor/config/address.ts';
import { loadConfig } from '../../processor/config/load.ts';
import { createPolicyStreamHandler, type PolicyStream } from '../../processor/extproc/policy-stream.ts';
import { loadExtProcService } from '../../processor/extproc/protos.ts';
import { boundAddress, signalListening } from '../../processor/lifecycle/ready-signal.ts';
import { createLogger } from '../../processor/log.ts';
import { createMetrics } from '../../processor/metrics/registry.ts';
import { createQuotaStore } from '../../processor/quota/create-store.ts';
import { Quotas } from '../../processor/quota/quotas.ts';
import { tuneGarbageCollection } from '../../processor/runtime/garbage-collection.ts';
import { createGrpcJsServer, listenGrpcJs } from './grpc-js-server.ts';

tuneGarbageCollection();
const loaded = loadConfig(process.env);
if (!loaded.ok) throw new Error(`invalid configuration: ${loaded.problems.join('; ')}`);
const { settings, quotaStore, policy } = loaded.config;
const log = createLogger(settings.log.level);
const metrics = createMetrics();
const quotas = new Quotas({
  plan: () => loaded.config.quotaPlan,
  store: createQuotaStore(quotaStore, log),
  failOpen: quotaStore.failOpen,
  log,
  metrics,
});

const server = createGrpcJsServer({
  'grpc.max_receive_message_length': settings.limits.max_request_body_bytes + 64 * 1024,
  'grpc.keepalive_time_ms': settings.processor.keepalive_interval_seconds * 1000,
  'grpc.keepalive_timeout_ms': settings.processor.keepalive_timeout_seconds * 1000,
  // Its per-call bookkeeping is of no use here.
  'grpc.enable_channelz': 0,
});

const policyHandler = createPolicyStreamHandler({
  policy: () => policy,
  limits: { maxRequestBodyBytes: settings.limits.max_request_body_bytes },
  log,
  quotas,
  metrics,
});
const accessLog = createAccessLogService({ log, quotas, metrics });

server.addService(loadExtProcService(), {
  Process: (call: ServerDuplexStream<unknown, unknown>) => {
    metrics.openStreams.inc({ stream: 'policy' });
    let open = true;
    const done = () => {
      if (!open) return;
      open = false;
      metrics.openStreams.dec({ stream: 'policy' });
    };
    call.once('finish', done);
    call.once('close', done);
    // grpc-js's duplex call has the events and methods the handler uses, but
    // for hold(): grpc-js never frees a received message under its handler.
    policyHandler(Object.assign(call, { hold: () => () => {} }) as unknown as PolicyStream);
  },
});
server.addService(loadAccessLogService(), {
  // Client streaming: grpc-js answers through the callback, the handler through write() and end().
  StreamAccessLogs: (call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => {
    let response: unknown = {};
    const adapted = Object.assign(call, {
      write: (message: unknown) => {
        response = message;
      },
      end: () => callback(null, response),
    });
    accessLog.handle(adapted as unknown as AccessLogCall);
  },
});
const address = formatAddress(settings.processor.address);
listenGrpcJs(server, address, (port) => {
  log.info({ address, port }, 'ext_proc processor listening');
  signalListening({ address: boundAddress(settings.processor.address, port), metricsPort: undefined });
});
process.once('SIGTERM', () => {
  server.forceShutdown();
  process.exit(0);
});
