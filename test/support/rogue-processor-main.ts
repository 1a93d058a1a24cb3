// The rogue processor's process (see rogue-processor.ts): `node
// rogue-processor-main.ts <behaviour> <host:port>`. It writes one JSON line
// `{"listening":"host:port"}` when ready and `{"received":n}` for each
// message, so the test knows what reached it.
import {
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServiceDefinition,
  status,
} from '@grpc/grpc-js';
import { loadExtProcService } from '../../processor/extproc/protos.ts';
import { setHeader } from '../../processor/extproc/responses.ts';
import type { CommonResponse } from '../../protos/generated/envoy/service/ext_proc/v3/CommonResponse.ts';
import type { ProcessingRequest__Output } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingRequest.ts';
import type { ProcessingResponse } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import {
  ROGUE_BEHAVIOURS,
  ROGUE_UPSTREAM_KEY,
  type RogueBehaviour,
  SLOW_ANSWER_MS,
} from './rogue-processor.ts';

type Stream = ServerDuplexStream<ProcessingRequest__Output, ProcessingResponse>;

const [behaviourArg, address] = process.argv.slice(2);
if (!ROGUE_BEHAVIOURS.includes(behaviourArg as RogueBehaviour) || address === undefined) {
  throw new Error(`usage: rogue-processor-main.ts <${ROGUE_BEHAVIOURS.join('|')}> <host:port>`);
}
const behaviour = behaviourArg as RogueBehaviour;

/** What a well-behaved processor would answer: go on, with an upstream key injected. */
function allow(request: ProcessingRequest__Output): ProcessingResponse {
  if (request.request === 'request_headers') {
    return {
      request_headers: {
        response: { header_mutation: { set_headers: [setHeader('x-api-key', ROGUE_UPSTREAM_KEY)] } },
      },
    };
  }
  return { request_body: { response: {} } };
}

/** The bad answer to a request's first message (its headers). */
function misbehave(call: Stream, request: ProcessingRequest__Output): void {
  const mutate = (mutation: CommonResponse) => call.write({ request_headers: { response: mutation } });
  switch (behaviour) {
    case 'crash':
      process.kill(process.pid, 'SIGKILL');
      return;
    case 'hang':
      return;
    case 'slow':
      setTimeout(() => {
        if (!call.cancelled && call.writable) call.write(allow(request));
      }, SLOW_ANSWER_MS).unref();
      return;
    case 'abort':
      // grpc-js ends a server stream with this status.
      call.emit('error', { code: status.INTERNAL, details: 'rogue processor failed' });
      return;
    case 'end':
    case 'end-after-headers':
      if (behaviour === 'end') call.end();
      else call.write(allow(request));
      return;
    case 'wrong-phase':
      call.write({ request_body: { response: {} } });
      return;
    case 'empty':
      call.write({});
      return;
    case 'garbage-bytes':
      // The service's serializer below ignores the value and sends garbage.
      call.write({});
      return;
    case 'mutate-authority':
      mutate({
        header_mutation: {
          set_headers: [
            setHeader(':authority', 'evil.example'),
            setHeader('host', 'evil.example'),
            setHeader('x-api-key', ROGUE_UPSTREAM_KEY),
          ],
        },
      });
      return;
    case 'mutate-crlf':
      mutate({
        header_mutation: {
          set_headers: [
            setHeader('x-api-key', ROGUE_UPSTREAM_KEY),
            setHeader('x-rogue', 'a\r\nx-injected: yes'),
          ],
        },
      });
      return;
    case 'remove-path':
      mutate({
        header_mutation: {
          remove_headers: [':path', ':method'],
          set_headers: [setHeader('x-api-key', ROGUE_UPSTREAM_KEY)],
        },
      });
      return;
  }
}

const GARBAGE = Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x7a, 0x01, 0x02, 0xde, 0xad, 0xbe, 0xef]);

function service(): ServiceDefinition {
  const definition = loadExtProcService();
  if (behaviour !== 'garbage-bytes') return definition;
  const entries = Object.entries(definition).map(([name, method]) => [
    name,
    { ...method, responseSerialize: () => GARBAGE },
  ]);
  return Object.fromEntries(entries) as ServiceDefinition;
}

let received = 0;
const server = new Server();
server.addService(service(), {
  Process: (call: Stream) => {
    let answeredHeaders = false;
    call.on('data', (request: ProcessingRequest__Output) => {
      received += 1;
      process.stdout.write(`${JSON.stringify({ received })}\n`);
      if (!answeredHeaders) {
        answeredHeaders = true;
        misbehave(call, request);
      } else if (behaviour === 'end-after-headers') {
        call.end();
      } else if (behaviour !== 'hang' && behaviour !== 'end' && call.writable) {
        call.write(allow(request));
      }
    });
    call.on('error', () => {});
    call.on('end', () => {
      if (call.writable) call.end();
    });
  },
});
server.bindAsync(address, ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  const host = address.slice(0, address.lastIndexOf(':'));
  process.stdout.write(`${JSON.stringify({ listening: `${host}:${port}` })}\n`);
});
process.once('SIGTERM', () => server.forceShutdown());
