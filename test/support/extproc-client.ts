// A test client that speaks ext_proc the way Envoy does: one bidirectional
// stream per HTTP request, header values as raw bytes (Envoy 1.40 sends
// `raw_value`, never `value`), the buffered body in one request_body message.
// It loads the service from the same proto definitions as the processor.
import { randomUUID } from 'node:crypto';
import { credentials, loadPackageDefinition, Metadata, type StatusObject } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { HeaderValue } from '../../protos/generated/envoy/config/core/v3/HeaderValue.ts';
import type { HeaderValueOption__Output } from '../../protos/generated/envoy/config/core/v3/HeaderValueOption.ts';
import type { ExternalProcessorClient } from '../../protos/generated/envoy/service/ext_proc/v3/ExternalProcessor.ts';
import type { ProcessingRequest } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingRequest.ts';
import type { ProcessingResponse__Output } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import { StatusCode } from '../../protos/generated/envoy/type/v3/StatusCode.ts';
import type { ProtoGrpcType } from '../../protos/generated/external_processor.ts';
import { extProcProtoFile, protoLoaderOptions } from '../../protos/index.ts';

export type { ProcessingRequest, ProcessingResponse__Output };

/** Room for a 32 MiB body plus framing (and a little more, to test the server's own limit). */
const MAX_SEND_BYTES = 40 * 1024 * 1024;
const DEFAULT_NEXT_TIMEOUT_MS = 10_000;

let grpcType: ProtoGrpcType | undefined;
function loadGrpcType(): ProtoGrpcType {
  grpcType ??= loadPackageDefinition(
    loadSync(extProcProtoFile, protoLoaderOptions),
  ) as unknown as ProtoGrpcType;
  return grpcType;
}

export interface ExtProcStream {
  /** Writes one message, as Envoy does for each phase. */
  send(request: ProcessingRequest): void;
  /** The next response; rejects if the stream fails or ends first, or after `timeoutMs`. */
  next(timeoutMs?: number): Promise<ProcessingResponse__Output>;
  /** send() then next(). */
  exchange(request: ProcessingRequest, timeoutMs?: number): Promise<ProcessingResponse__Output>;
  /** Half-closes the stream (as Envoy does when the request is done) and waits for the final status. */
  close(): Promise<StatusObject>;
  /** The final gRPC status, once the stream has ended (OK or not). */
  readonly status: Promise<StatusObject>;
}

export interface ExtProcClient {
  /** `metadata`: gRPC headers for the stream, as Envoy's grpc_service initial_metadata adds them. */
  openStream(metadata?: Readonly<Record<string, string>>): ExtProcStream;
  /** Closes the channel. */
  close(): void;
}

export function createExtProcClient(address: string): ExtProcClient {
  const Ctor = loadGrpcType().envoy.service.ext_proc.v3.ExternalProcessor;
  const client: ExternalProcessorClient = new Ctor(address, credentials.createInsecure(), {
    'grpc.max_send_message_length': MAX_SEND_BYTES,
  });
  return {
    openStream: (metadata) => openStreamOn(client, metadata),
    close: () => client.close(),
  };
}

function openStreamOn(
  client: ExternalProcessorClient,
  headers: Readonly<Record<string, string>> = {},
): ExtProcStream {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  const call = client.Process(metadata);
  const received: ProcessingResponse__Output[] = [];
  const waiting: Array<{
    resolve: (response: ProcessingResponse__Output) => void;
    reject: (error: Error) => void;
  }> = [];
  let failure: Error | undefined;

  const fail = (error: Error) => {
    failure ??= error;
    for (const waiter of waiting.splice(0)) waiter.reject(failure);
  };

  call.on('data', (response: ProcessingResponse__Output) => {
    const waiter = waiting.shift();
    if (waiter === undefined) received.push(response);
    else waiter.resolve(response);
  });
  call.on('end', () => fail(new Error('ext_proc stream ended before a response')));
  // The status event carries the error's details too; this listener keeps an
  // error event from being thrown as an uncaught exception.
  call.on('error', (error: Error) => fail(error));
  const status = new Promise<StatusObject>((resolve) => call.on('status', resolve));

  const next = (timeoutMs = DEFAULT_NEXT_TIMEOUT_MS): Promise<ProcessingResponse__Output> => {
    const ready = received.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (failure !== undefined) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (response: ProcessingResponse__Output) => {
          clearTimeout(timer);
          resolve(response);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        const index = waiting.indexOf(waiter);
        if (index !== -1) waiting.splice(index, 1);
        reject(new Error(`no ext_proc response within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.push(waiter);
    });
  };

  return {
    send: (request) => {
      call.write(request);
    },
    next,
    exchange: (request, timeoutMs) => {
      call.write(request);
      return next(timeoutMs);
    },
    close: () => {
      call.end();
      return status;
    },
    status,
  };
}

export const GATEWAY_BASE_PATH = '/ai-gateway/anthropic';
export const MESSAGES_PATH = `${GATEWAY_BASE_PATH}/v1/messages`;

export interface RequestHeadersOptions {
  readonly method?: string;
  readonly path?: string;
  readonly authority?: string;
  /** Envoy adds one before any filter runs; a fresh UUID unless given. */
  readonly requestId?: string;
  /** The client's own headers, in order, after the ones Envoy adds. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  /** True when the request has no body (GET, HEAD, an empty POST). */
  readonly endOfStream?: boolean;
}

/** A request_headers message as Envoy 1.40 builds it: pseudo-headers first, values as raw bytes. */
export function requestHeaders(options: RequestHeadersOptions = {}): ProcessingRequest {
  const list: Array<readonly [string, string]> = [
    [':authority', options.authority ?? 'gateway.test:10000'],
    [':path', options.path ?? MESSAGES_PATH],
    [':method', options.method ?? 'POST'],
    [':scheme', 'http'],
    ...(options.headers ?? []),
    ['x-forwarded-proto', 'http'],
    ['x-request-id', options.requestId ?? randomUUID()],
  ];
  return {
    request_headers: {
      headers: { headers: list.map(([key, value]) => rawHeader(key, value)) },
      end_of_stream: options.endOfStream ?? false,
    },
  };
}

export function rawHeader(key: string, value: string): HeaderValue {
  return { key, raw_value: Buffer.from(value, 'latin1') };
}

/** The whole buffered body in one message (Envoy's BUFFERED body mode). */
export function requestBody(body: Buffer | string, endOfStream = true): ProcessingRequest {
  return {
    request_body: {
      body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
      end_of_stream: endOfStream,
    },
  };
}

/** A response_headers message: a phase this processor never asks for. */
export function responseHeaders(status = 200): ProcessingRequest {
  return {
    response_headers: {
      headers: {
        headers: [rawHeader(':status', String(status)), rawHeader('content-type', 'application/json')],
      },
      end_of_stream: false,
    },
  };
}

// --- reading responses ---------------------------------------------------------

const STATUS_NUMBERS: ReadonlyMap<string, number> = buildStatusNumbers();

function buildStatusNumbers(): Map<string, number> {
  // The generated enum lists names in declaration order; the numbers come from
  // the loaded descriptor, so nothing here is typed in by hand.
  const descriptor = loadGrpcType().envoy.type.v3.StatusCode.type as {
    value?: ReadonlyArray<{ name?: string; number?: number }>;
  };
  const numbers = new Map<string, number>();
  for (const { name, number } of descriptor.value ?? []) {
    if (name !== undefined && number !== undefined) numbers.set(name, number);
  }
  for (const name of Object.keys(StatusCode)) {
    if (!numbers.has(name)) throw new Error(`StatusCode.${name} has no number in the descriptor`);
  }
  return numbers;
}

/**
 * The HTTP status of an immediate_response. The loader decodes enums as names
 * (`Unauthorized`); a code outside Envoy's enum arrives as its number.
 */
export function immediateStatus(response: ProcessingResponse__Output): number | undefined {
  const code: unknown = response.immediate_response?.status?.code;
  if (typeof code === 'number') return code;
  if (typeof code === 'string') return STATUS_NUMBERS.get(code);
  return undefined;
}

/** The immediate_response body, parsed as JSON. */
export function immediateBody(response: ProcessingResponse__Output): unknown {
  const body = response.immediate_response?.body;
  if (body === undefined) throw new Error(`not an immediate_response: ${describeResponse(response)}`);
  return JSON.parse(body.toString('utf8'));
}

/** A header mutation's set_headers as [name, value, append_action] triples, values decoded from bytes. */
export function setHeaderEntries(
  options: ReadonlyArray<HeaderValueOption__Output> | undefined,
): Array<[name: string, value: string, appendAction: string | undefined]> {
  return (options ?? []).map((option) => [
    option.header?.key ?? '',
    headerOptionValue(option),
    option.append_action,
  ]);
}

/** The value of one set header: exactly one of raw_value or value should be set. */
export function headerOptionValue(option: HeaderValueOption__Output): string {
  const raw = option.header?.raw_value;
  if (raw !== undefined && raw.length > 0) return raw.toString('latin1');
  return option.header?.value ?? '';
}

/** The set header named `name` (last one wins, as Envoy applies them in order). */
export function setHeaderValue(
  options: ReadonlyArray<HeaderValueOption__Output> | undefined,
  name: string,
): string | undefined {
  let found: string | undefined;
  for (const [key, value] of setHeaderEntries(options)) if (key === name) found = value;
  return found;
}

/** A short, secret-free rendering for failure messages. */
export function describeResponse(response: ProcessingResponse__Output): string {
  const status = immediateStatus(response);
  return status === undefined ? `${response.response ?? 'empty'} response` : `immediate_response ${status}`;
}
