// Turns one of Envoy's HTTP access-log entries (envoy.data.accesslog.v3) into
// the plain values the metering policy reads (processor/metering/
// access-record.ts). The only code that reads access-log protos.

import type { RequestMethod__Output } from '../../protos/generated/envoy/config/core/v3/RequestMethod.ts';
import type { HTTPAccessLogEntry__Output } from '../../protos/generated/envoy/data/accesslog/v3/HTTPAccessLogEntry.ts';
import type { ResponseFlags__Output } from '../../protos/generated/envoy/data/accesslog/v3/ResponseFlags.ts';
import type { Duration__Output } from '../../protos/generated/google/protobuf/Duration.ts';
import type { Timestamp__Output } from '../../protos/generated/google/protobuf/Timestamp.ts';
import { RESPONSE_REQUEST_ID_HEADER } from '../contract/names.ts';
import { USAGE_KEYS, USAGE_NAMESPACE, type UsageKey } from '../contract/usage.ts';
import { readFacts } from '../extproc/metadata.ts';
import type { LoggedRequest } from '../metering/access-record.ts';

/**
 * Response flags that say the client went away, or reset its stream, before
 * it had the whole response. Other flags (a timeout, an upstream reset) come
 * with Envoy's own complete reply when they happen before the response
 * started, and with no last byte sent when they cut it: the last byte says it.
 */
const CLIENT_LEFT: ReadonlyArray<keyof ResponseFlags__Output> = [
  'downstream_connection_termination',
  'downstream_remote_reset',
];

export function readEntry(entry: HTTPAccessLogEntry__Output): LoggedRequest {
  const common = entry.common_properties;
  const metadata = common?.metadata;
  const flags = common?.response_flags;
  const lastByte = common?.time_to_last_downstream_tx_byte;
  const request = entry.request;
  const response = entry.response;
  return {
    status: response?.response_code?.value ?? 0,
    envoyRequestId: nonEmpty(request?.request_id) ?? nonEmpty(common?.stream_id),
    startTimeMs: epochMilliseconds(common?.start_time),
    method: readMethod(request?.request_method),
    path: nonEmpty(request?.path),
    clientAddress: nonEmpty(common?.downstream_remote_address?.socket_address?.address),
    userAgent: nonEmpty(request?.user_agent),
    responseRequestId: nonEmpty(response?.response_headers?.[RESPONSE_REQUEST_ID_HEADER]),
    // Set once the upstream's response headers arrived; Envoy's and the processor's replies have none.
    fromUpstream: Number(response?.upstream_header_bytes_received ?? 0) > 0,
    facts: readFacts(metadata),
    usage: readUsage(metadata?.filter_metadata?.[USAGE_NAMESPACE]?.fields),
    contentType: entry.response?.response_headers?.['content-type'],
    ttfbMs: milliseconds(common?.time_to_first_downstream_tx_byte),
    latencyMs: milliseconds(lastByte ?? common?.duration),
    complete:
      lastByte !== undefined && (flags === undefined || !CLIENT_LEFT.some((flag) => flags[flag] === true)),
  };
}

type UsageFields = NonNullable<
  NonNullable<NonNullable<HTTPAccessLogEntry__Output['common_properties']>['metadata']>['filter_metadata']
>[string]['fields'];

/** The number values under the usage namespace; a value of any other kind is left out. */
function readUsage(fields: UsageFields): Partial<Record<UsageKey, number>> {
  const usage: Partial<Record<UsageKey, number>> = {};
  if (fields === undefined) return usage;
  for (const key of USAGE_KEYS) {
    const value = fields[key]?.numberValue;
    if (typeof value === 'number') usage[key] = value;
  }
  return usage;
}

/** Envoy's name of the method; a method it has no name for (an extension method) is none. */
function readMethod(method: RequestMethod__Output | undefined): string | undefined {
  return typeof method === 'string' && method !== 'METHOD_UNSPECIFIED' ? method : undefined;
}

/** A protobuf Timestamp in milliseconds since the epoch. */
function epochMilliseconds(time: Timestamp__Output | undefined): number | undefined {
  if (time === undefined) return undefined;
  const ms = Number(time.seconds ?? 0) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** A protobuf Duration in milliseconds, to the microsecond. */
function milliseconds(duration: Duration__Output | undefined): number | undefined {
  if (duration === undefined) return undefined;
  const ms = Number(duration.seconds ?? 0) * 1000 + (duration.nanos ?? 0) / 1e6;
  return Number.isFinite(ms) && ms >= 0 ? Math.round(ms * 1000) / 1000 : undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
