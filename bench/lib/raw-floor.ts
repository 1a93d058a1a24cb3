// The floor without grpc-js, for the benchmark only: the empty processor of
// floor-processor.ts written straight on node:http2. It frames gRPC messages
// itself, reads only the tags it needs from each ProcessingRequest (which phase,
// whether it is the last) and answers with responses encoded once at start. The
// difference between it and the grpc-js floor is what grpc-js and protobufjs's
// decoding cost per request; what is left is Node's HTTP/2 and Envoy's side.
// With `decode`, each message is also decoded as the processor decodes it
// (proto-loader's deserializer), which shows what the decoding alone costs.
import { createServer, type ServerHttp2Stream } from 'node:http2';
import { withApproval } from '../../processor/extproc/approval.ts';
import { loadExtProcService } from '../../processor/extproc/protos.ts';
import { CONTINUE_REQUEST_BODY } from '../../processor/extproc/responses.ts';
import { grpcFrame } from './grpc-frame.ts';

/** ProcessingRequest's oneof `request`, by field number. */
const REQUEST_HEADERS = 2;
const RESPONSE_HEADERS = 3;
const REQUEST_BODY = 4;
const RESPONSE_BODY = 5;
/** HttpHeaders.end_of_stream and HttpBody.end_of_stream. */
const HEADERS_END_OF_STREAM = 3;
const BODY_END_OF_STREAM = 2;

const HEALTH_PATH = '/grpc.health.v1.Health/Check';
const ACCESS_LOG_PATH = '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs';

function encodedResponses(): { continueHeaders: Buffer; approved: Buffer } {
  const definition = loadExtProcService();
  const serialize = definition.Process?.responseSerialize as (value: unknown) => Buffer;
  return {
    continueHeaders: grpcFrame(serialize({ request_headers: { response: {} } })),
    approved: grpcFrame(
      serialize({ ...CONTINUE_REQUEST_BODY, dynamic_metadata: withApproval({ fields: {} }) }),
    ),
  };
}

/** The varint at `offset`: its value (up to 2^53) and the offset after it. */
function readVarint(bytes: Buffer, offset: number): [number, number] {
  let value = 0;
  let scale = 1;
  let at = offset;
  for (;;) {
    const byte = bytes[at++] as number;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, at];
    scale *= 128;
  }
}

/** Calls `visit` for each top-level field of the message in bytes[start, end). */
function forEachField(
  bytes: Buffer,
  start: number,
  end: number,
  visit: (field: number, valueStart: number, valueEnd: number, varint: number) => void,
): void {
  let at = start;
  while (at < end) {
    const [tag, afterTag] = readVarint(bytes, at);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) {
      const [value, next] = readVarint(bytes, afterTag);
      visit(field, afterTag, next, value);
      at = next;
    } else if (wire === 2) {
      const [length, next] = readVarint(bytes, afterTag);
      visit(field, next, next + length, 0);
      at = next + length;
    } else if (wire === 1) at = afterTag + 8;
    else if (wire === 5) at = afterTag + 4;
    else throw new Error(`wire type ${wire}`);
  }
}

/** The phase of a ProcessingRequest (its field number) and whether it is the last message of its side. */
export function phaseOf(message: Buffer): { phase: number; last: boolean } {
  let phase = 0;
  let last = false;
  forEachField(message, 0, message.length, (field, start, end) => {
    if (field < REQUEST_HEADERS || field > RESPONSE_BODY) return;
    phase = field;
    const endField =
      field === REQUEST_HEADERS || field === RESPONSE_HEADERS ? HEADERS_END_OF_STREAM : BODY_END_OF_STREAM;
    forEachField(message, start, end, (inner, _s, _e, varint) => {
      if (inner === endField && varint === 1) last = true;
    });
  });
  return { phase, last };
}

/** Splits a stream's DATA into gRPC messages. */
function onMessages(stream: ServerHttp2Stream, handle: (message: Buffer) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const length = pending.readUInt32BE(1);
      if (pending.length < 5 + length) break;
      handle(pending.subarray(5, 5 + length));
      pending = pending.subarray(5 + length);
    }
  });
}

const OK_TRAILERS = { 'grpc-status': '0' };
// HealthCheckResponse { status: SERVING }.
const SERVING = grpcFrame(Uint8Array.of(0x08, 0x01));

export function startRawFloor(address: string, onListening: (port: number) => void, decode = false): void {
  const { continueHeaders, approved } = encodedResponses();
  const deserialize = loadExtProcService().Process?.requestDeserialize as (bytes: Buffer) => unknown;
  const server = createServer({
    maxSessionMemory: 64,
    // Envoy resets every stream this server ends first (see processor/extproc/server.ts).
    streamResetBurst: 1_000_000,
    streamResetRate: 1_000_000,
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers(OK_TRAILERS));
    const finish = () => {
      if (!stream.writableEnded) stream.end();
    };
    stream.on('end', finish);
    if (headers[':path'] === HEALTH_PATH) {
      onMessages(stream, () => {
        stream.write(SERVING);
        finish();
      });
      return;
    }
    // Envoy's access-log stream: its entries are read and dropped.
    if (headers[':path'] === ACCESS_LOG_PATH) {
      stream.resume();
      return;
    }
    onMessages(stream, (message) => {
      if (decode) deserialize(message);
      const { phase } = phaseOf(message);
      if (phase === REQUEST_HEADERS) stream.write(continueHeaders);
      else if (phase === REQUEST_BODY) {
        stream.write(approved);
        finish();
      }
    });
  });
  const socket = address.startsWith('unix:') ? address.slice('unix:'.length) : undefined;
  if (socket !== undefined) server.listen(socket, () => onListening(0));
  else {
    const colon = address.lastIndexOf(':');
    server.listen(Number(address.slice(colon + 1)), address.slice(0, colon), () => {
      const bound = server.address();
      onListening(typeof bound === 'object' && bound !== null ? bound.port : 0);
    });
  }
}
