// Drives the processor's two services for one request as Envoy does: the
// policy stream (request headers, buffered body) and, once the request has
// ended, its entry on Envoy's access-log stream (StreamAccessLogs: one
// long-lived client-streaming call, batches of entries carrying the
// policy's dynamic metadata and the usage Envoy's filters read).
import { credentials, loadPackageDefinition, type StatusObject } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { METADATA_NAMESPACE } from '../../processor/contract/names.ts';
import { USAGE_NAMESPACE, type UsageKey } from '../../processor/contract/usage.ts';
import type { ProtoGrpcType } from '../../protos/generated/als.ts';
import type { HTTPAccessLogEntry } from '../../protos/generated/envoy/data/accesslog/v3/HTTPAccessLogEntry.ts';
import type { ResponseFlags } from '../../protos/generated/envoy/data/accesslog/v3/ResponseFlags.ts';
import type { AccessLogServiceClient } from '../../protos/generated/envoy/service/accesslog/v3/AccessLogService.ts';
import type { StreamAccessLogsMessage } from '../../protos/generated/envoy/service/accesslog/v3/StreamAccessLogsMessage.ts';
import type { ProcessingResponse__Output } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import type { Value } from '../../protos/generated/google/protobuf/Value.ts';
import { accessLogProtoFile, protoLoaderOptions } from '../../protos/index.ts';
import { type ExtProcClient, requestBody, requestHeaders } from './extproc-client.ts';

/** The facts a policy answer carried in its dynamic metadata. */
export function metadataFacts(response: ProcessingResponse__Output): Record<string, string> {
  const fields = response.dynamic_metadata?.fields?.[METADATA_NAMESPACE]?.structValue?.fields ?? {};
  const facts: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields))
    if (value.stringValue !== undefined) facts[key] = value.stringValue;
  return facts;
}

export interface PolicyExchange {
  readonly headers: ProcessingResponse__Output;
  readonly body: ProcessingResponse__Output | undefined;
  /** Every fact of both answers, merged as Envoy merges them. */
  readonly facts: Record<string, string>;
}

/** Sends one request through the policy stream; the body only if the headers were let through. */
export async function policyExchange(
  client: ExtProcClient,
  options: { token: string; model?: string; path?: string; method?: string; requestId?: string },
): Promise<PolicyExchange> {
  const stream = client.openStream();
  const headers = await stream.exchange(
    requestHeaders({
      ...(options.path !== undefined ? { path: options.path } : {}),
      ...(options.method !== undefined
        ? { method: options.method, endOfStream: options.method === 'GET' }
        : {}),
      ...(options.requestId !== undefined ? { requestId: options.requestId } : {}),
      headers: [
        ['x-api-key', options.token],
        ['content-type', 'application/json'],
      ],
    }),
  );
  let body: ProcessingResponse__Output | undefined;
  if (headers.response === 'request_headers') {
    const model = options.model ?? 'claude-sonnet-4-6';
    body = await stream.exchange(requestBody(JSON.stringify({ model, max_tokens: 16, messages: [] })));
  }
  await stream.close();
  return { headers, body, facts: { ...metadataFacts(headers), ...(body ? metadataFacts(body) : {}) } };
}

const milliseconds = (ms: number) => ({
  seconds: String(Math.floor(ms / 1000)),
  nanos: Math.round((ms % 1000) * 1e6),
});

export interface EntryOptions {
  readonly status?: number;
  readonly contentType?: string;
  /** Values Envoy's usage filters wrote (a test may write what no upstream should send). */
  readonly usage?: Partial<Record<UsageKey, Value>>;
  readonly ttfbMs?: number;
  /** When the last byte went to the client; absent for a response that never finished. */
  readonly lastByteMs?: number | undefined;
  readonly durationMs?: number;
  readonly flags?: ResponseFlags;
  /** Envoy's own id (x-request-id), for a request the policy never saw. */
  readonly requestId?: string;
}

/** One entry as Envoy writes it for a finished request, carrying the policy's facts. */
export function accessLogEntry(
  facts: Readonly<Record<string, string>>,
  options: EntryOptions = {},
): HTTPAccessLogEntry {
  const fields: Record<string, Value> = {};
  for (const [key, value] of Object.entries(facts)) fields[key] = { stringValue: value };
  const lastByte = 'lastByteMs' in options ? options.lastByteMs : 40;
  return {
    common_properties: {
      start_time: { seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 },
      time_to_first_downstream_tx_byte: milliseconds(options.ttfbMs ?? 12.5),
      ...(lastByte !== undefined ? { time_to_last_downstream_tx_byte: milliseconds(lastByte) } : {}),
      duration: milliseconds(options.durationMs ?? lastByte ?? 41),
      metadata: {
        filter_metadata: {
          [METADATA_NAMESPACE]: { fields },
          ...(options.usage !== undefined ? { [USAGE_NAMESPACE]: { fields: options.usage } } : {}),
        },
      },
      ...(options.flags !== undefined ? { response_flags: options.flags } : {}),
      stream_id: options.requestId ?? 'stream-id',
    },
    protocol_version: 'HTTP11',
    request: {
      request_method: 'POST',
      path: '/ai-gateway/anthropic/v1/messages',
      ...(options.requestId !== undefined ? { request_id: options.requestId } : {}),
    },
    response: {
      response_code: { value: options.status ?? 200 },
      response_headers: { 'content-type': options.contentType ?? 'application/json' },
      response_code_details: 'via_upstream',
    },
  };
}

/** Number values, as Envoy's filters write what they read. */
export function usageValues(usage: Partial<Record<UsageKey, number>>): Partial<Record<UsageKey, Value>> {
  const values: Partial<Record<UsageKey, Value>> = {};
  for (const [key, value] of Object.entries(usage)) values[key as UsageKey] = { numberValue: value };
  return values;
}

export interface AccessLogStream {
  /** Sends a batch of entries (the first batch of a stream carries the identifier, as Envoy's does). */
  send(entries: readonly HTTPAccessLogEntry[]): void;
  /** Half-closes the stream and waits for the processor's status. */
  close(): Promise<StatusObject>;
  /** The final status, however the stream ended. */
  readonly status: Promise<StatusObject>;
}

let grpcType: ProtoGrpcType | undefined;

export interface AccessLogClient {
  openStream(): AccessLogStream;
  close(): void;
}

export function createAccessLogClient(address: string): AccessLogClient {
  grpcType ??= loadPackageDefinition(
    loadSync(accessLogProtoFile, protoLoaderOptions),
  ) as unknown as ProtoGrpcType;
  const Ctor = grpcType.envoy.service.accesslog.v3.AccessLogService;
  const client: AccessLogServiceClient = new Ctor(address, credentials.createInsecure());
  return {
    openStream: () => {
      let first = true;
      let resolveStatus: (status: StatusObject) => void = () => {};
      const status = new Promise<StatusObject>((resolve) => {
        resolveStatus = resolve;
      });
      const call = client.StreamAccessLogs(() => {});
      call.on('status', (s: StatusObject) => resolveStatus(s));
      return {
        send: (entries) => {
          const message: StreamAccessLogsMessage = {
            ...(first ? { identifier: { log_name: 'anthropic_gateway', node: { id: 'test-envoy' } } } : {}),
            http_logs: { log_entry: [...entries] },
          };
          first = false;
          call.write(message);
        },
        close: () => {
          call.end();
          return status;
        },
        status,
      };
    },
    close: () => client.close(),
  };
}
