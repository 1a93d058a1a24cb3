// A lean ext_proc client for the benchmark: the policy stream as Envoy opens
// it (request headers, then the buffered body), on node:http2, with each
// message serialised once beforehand. Sending a 32 MB body is then a plain
// write, so the client's own CPU (grpc-js serialises and copies on every
// write) does not crowd the processor being measured on a machine of 2 cores.
import { type ClientHttp2Session, connect } from 'node:http2';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadExtProcService } from '../../processor/extproc/protos.ts';
import type { ProcessingRequest } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingRequest.ts';
import type { ProcessingResponse__Output } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import { grpcFrame } from './grpc-frame.ts';

const method = (loadExtProcService() as ServiceDefinition).Process as unknown as {
  path: string;
  requestSerialize: (message: ProcessingRequest) => Buffer;
  responseDeserialize: (bytes: Buffer) => ProcessingResponse__Output;
};

/** A message in gRPC's length-prefixed framing, ready to write. */
export function frame(message: ProcessingRequest): Buffer {
  return grpcFrame(method.requestSerialize(message));
}

export interface RawExtProc {
  /** Writes each frame and waits for one response to each; the stream is then closed. */
  exchange(frames: readonly Buffer[]): Promise<ProcessingResponse__Output[]>;
  close(): void;
}

export function connectRawExtProc(address: string): RawExtProc {
  // Several 32 MB messages in flight on one connection are far over Node's
  // default of 10 MB per session, past which it resets streams (ENHANCE_YOUR_CALM).
  const session: ClientHttp2Session = connect(`http://${address}`, { maxSessionMemory: 1024 });
  session.on('error', () => {});
  return {
    exchange: (frames) =>
      new Promise((resolve, reject) => {
        const call = session.request({
          ':method': 'POST',
          ':path': method.path,
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        const responses: ProcessingResponse__Output[] = [];
        let pending = Buffer.alloc(0);
        let sent = 0;
        const sendNext = () => {
          const next = frames[sent];
          sent += 1;
          if (next === undefined) call.end();
          else call.write(next);
        };
        call.on('data', (chunk: Buffer) => {
          pending = Buffer.concat([pending, chunk]);
          while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
            const length = pending.readUInt32BE(1);
            responses.push(method.responseDeserialize(pending.subarray(5, 5 + length)));
            pending = pending.subarray(5 + length);
            sendNext();
          }
        });
        call.on('error', reject);
        call.on('close', () => {
          if (responses.length === frames.length) resolve(responses);
          else reject(new Error(`the stream closed after ${responses.length} of ${frames.length} answers`));
        });
        sendNext();
      }),
    close: () => session.close(),
  };
}
