// The floor of this architecture, for the benchmark only: an ext_proc server
// on the same gRPC server as the processor (processor/grpc/server.ts) that
// decides nothing. It answers each message at once (headers: continue; body:
// continue with the approval mark) and ends the policy stream after the body,
// as the processor does; Envoy's access-log entries are read and dropped. Envoy runs
// the gateway's own bootstrap against it, so the difference between it and
// plain Envoy is the price of the ext_proc protocol on Node's HTTP/2 alone,
// and the difference between it and the gateway is the price of the gateway's
// own work (token, route, model scan, quotas, usage, access line, metrics).
//
// Run as `node bench/lib/floor-processor.ts <address> [--pipelined | --grpc-js
// | --raw [--decode]]`, by scripts/processor-child.ts: it sends the launcher
// the same listening signal as the processor
// (processor/lifecycle/ready-signal.ts).
// `--pipelined` is for Envoy's STREAMED body mode with
// send_body_without_waiting_for_header_response (bench/variants.ts): it holds
// its answer to the headers until the body's last chunk, then answers the
// headers (with the approval) and every chunk at once. `--grpc-js` is the same
// empty processor on grpc-js's server, which the processor used before;
// `--raw` one that does not even decode (raw-floor.ts).
import type { ServerDuplexStream, ServerReadableStream, sendUnaryData } from '@grpc/grpc-js';
import { loadAccessLogService } from '../../processor/accesslog/protos.ts';
import { accessLogMethod } from '../../processor/accesslog/service.ts';
import { parseAddress } from '../../processor/config/address.ts';
import { withApproval } from '../../processor/extproc/approval.ts';
import { loadExtProcService } from '../../processor/extproc/protos.ts';
import { CONTINUE_REQUEST_BODY } from '../../processor/extproc/responses.ts';
import { extProcMethod } from '../../processor/extproc/server.ts';
import { startGrpcServer } from '../../processor/grpc/server.ts';
import { createHealth } from '../../processor/health/service.ts';
import { boundAddress, signalListening } from '../../processor/lifecycle/ready-signal.ts';
import { tuneGarbageCollection } from '../../processor/runtime/garbage-collection.ts';
import type { ProcessingRequest__Output } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingRequest.ts';
import type { ProcessingResponse } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import { createGrpcJsServer, listenGrpcJs } from './grpc-js-server.ts';
import { startRawFloor } from './raw-floor.ts';

/** What both servers' calls offer, as far as these handlers use them. */
interface Stream {
  on(event: 'data', listener: (message: ProcessingRequest__Output) => void): unknown;
  write(message: ProcessingResponse): unknown;
  end(): unknown;
}

const CONTINUE_HEADERS: ProcessingResponse = { request_headers: { response: {} } };
const APPROVED: ProcessingResponse = {
  ...CONTINUE_REQUEST_BODY,
  dynamic_metadata: withApproval({ fields: {} }),
};

const APPROVED_HEADERS: ProcessingResponse = {
  ...CONTINUE_HEADERS,
  dynamic_metadata: withApproval({ fields: {} }),
};
const CONTINUE_CHUNK: ProcessingResponse = { request_body: { response: {} } };

function pipelinedPolicy(call: Stream): void {
  let chunks = 0;
  call.on('data', (message: ProcessingRequest__Output) => {
    const last =
      message.request === 'request_headers'
        ? message.request_headers?.end_of_stream === true
        : message.request_body?.end_of_stream === true;
    if (message.request === 'request_body') chunks += 1;
    if (!last) return;
    call.write(APPROVED_HEADERS);
    for (let i = 0; i < chunks; i++) call.write(CONTINUE_CHUNK);
    call.end();
  });
}

function policy(call: Stream): void {
  call.on('data', (message: ProcessingRequest__Output) => {
    if (message.request === 'request_headers') {
      call.write(CONTINUE_HEADERS);
      return;
    }
    call.write(APPROVED);
    call.end();
  });
}

function answer(call: Stream, pipelined: boolean): void {
  if (pipelined) pipelinedPolicy(call);
  else policy(call);
}

async function startFloor(address: string, pipelined: boolean, onListening: (port: number) => void) {
  const health = createHealth();
  const [path, method] = extProcMethod((call) => {
    call.on('end', () => call.end());
    call.on('error', () => {});
    answer(call, pipelined);
  });
  // Envoy's access-log stream: entries are decoded (the server does) and dropped.
  const [accessLogPath, accessLog] = accessLogMethod((call) => {
    call.on('end', () => call.end());
    call.on('error', () => {});
  });
  const server = await startGrpcServer({
    address: parseAddress(address),
    maxMessageBytes: 64 * 1024 * 1024,
    methods: { [path]: method, [accessLogPath]: accessLog, ...health.methods },
  });
  health.set('SERVING');
  onListening(server.port);
}

/** The same on grpc-js's server (grpc-js-server.ts says what it needs raised). */
function startGrpcJsFloor(address: string, onListening: (port: number) => void): void {
  const server = createGrpcJsServer({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  server.addService(loadExtProcService(), {
    Process: (call: ServerDuplexStream<ProcessingRequest__Output, ProcessingResponse>) => {
      call.on('end', () => call.end());
      call.on('error', () => {});
      answer(call, false);
    },
  });
  server.addService(loadAccessLogService(), {
    StreamAccessLogs: (call: ServerReadableStream<unknown, unknown>, done: sendUnaryData<unknown>) => {
      call.on('data', () => {});
      call.on('end', () => done(null, {}));
      call.on('error', () => {});
    },
  });
  listenGrpcJs(server, address, onListening);
}

// The same runtime as the processor's, so that the floor differs from it only in the work.
tuneGarbageCollection();
const address = process.argv[2];
if (address === undefined)
  throw new Error('usage: floor-processor.ts <address> [--pipelined | --grpc-js | --raw [--decode]]');
const listening = (port: number) =>
  signalListening({ address: boundAddress(parseAddress(address), port), metricsPort: undefined });
if (process.argv.includes('--raw')) startRawFloor(address, listening, process.argv.includes('--decode'));
else if (process.argv.includes('--grpc-js')) startGrpcJsFloor(address, listening);
else await startFloor(address, process.argv.includes('--pipelined'), listening);
// Nothing to drain: Envoy's streams just end.
process.once('SIGTERM', () => process.exit(0));
