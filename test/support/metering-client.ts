// Drives the processor's two streams for one request as Envoy does: the
// policy stream (request headers, buffered body) and the metering stream
// (response headers and body chunks, with the policy's dynamic metadata and
// the attributes Envoy adds).

import { METADATA_NAMESPACE } from '../../processor/extproc/metadata.ts';
import { METERING_STREAM, STREAM_KIND_HEADER } from '../../processor/extproc/server.ts';
import type { ProcessingResponse__Output } from '../../protos/generated/envoy/service/ext_proc/v3/ProcessingResponse.ts';
import {
  type ExtProcClient,
  type ExtProcStream,
  type ProcessingRequest,
  rawHeader,
  requestBody,
  requestHeaders,
} from './extproc-client.ts';

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
  options: { token: string; model?: string; path?: string; requestId?: string },
): Promise<PolicyExchange> {
  const stream = client.openStream();
  const headers = await stream.exchange(
    requestHeaders({
      ...(options.path !== undefined ? { path: options.path } : {}),
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

/** Envoy's message on the metering stream: the response headers, with metadata and attributes. */
export function meteringHeaders(
  facts: Readonly<Record<string, string>>,
  options: { status?: number; contentType?: string; requestTime?: Date; endOfStream?: boolean } = {},
): ProcessingRequest {
  const fields: Record<string, { stringValue: string }> = {};
  for (const [key, value] of Object.entries(facts)) fields[key] = { stringValue: value };
  return {
    response_headers: {
      headers: {
        headers: [
          rawHeader(':status', String(options.status ?? 200)),
          rawHeader('content-type', options.contentType ?? 'application/json'),
        ],
      },
      end_of_stream: options.endOfStream ?? false,
    },
    metadata_context: { filter_metadata: { [METADATA_NAMESPACE]: { fields } } },
    attributes: {
      'envoy.filters.http.ext_proc': {
        fields: { 'request.time': { stringValue: (options.requestTime ?? new Date()).toISOString() } },
      },
    },
    observability_mode: true,
  };
}

export function meteringBody(body: Buffer | string, endOfStream: boolean): ProcessingRequest {
  return {
    response_body: { body: typeof body === 'string' ? Buffer.from(body) : body, end_of_stream: endOfStream },
    observability_mode: true,
  };
}

export function openMeteringStream(client: ExtProcClient): ExtProcStream {
  return client.openStream({ [STREAM_KIND_HEADER]: METERING_STREAM });
}
