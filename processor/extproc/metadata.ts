// What the policy stream tells the access log about a request, through
// Envoy's dynamic metadata: the policy filter writes facts into the
// `anthropic_gateway` namespace with each answer (Envoy merges them), and
// the request's access-log entry carries that metadata when the request has
// ended. The policy stream and the entry of one request can thus reach
// different processor replicas and still agree. The request id travels this
// way too: the policy removes the x-request-id header before the request
// goes upstream.
import type { Metadata__Output } from '../../protos/generated/envoy/config/core/v3/Metadata.ts';
import type { Struct } from '../../protos/generated/google/protobuf/Struct.ts';
import type { Value } from '../../protos/generated/google/protobuf/Value.ts';
import { METADATA_NAMESPACE } from '../contract/names.ts';

/** Facts about one request; every field is a short, non-secret string. */
export interface RequestFacts {
  readonly request_id?: string | undefined;
  readonly token_id?: string | undefined;
  readonly workspace?: string | undefined;
  readonly route?: string | undefined;
  /** Only a model of the catalog, once the request is forwarded (client text never becomes a label). */
  readonly model?: string | undefined;
  /** The model a request refused for its model asked for, escaped and capped: for the access line only. */
  readonly requested_model?: string | undefined;
  /** Why the gateway refused the request (GatewayError.reason). */
  readonly reason?: string | undefined;
  /**
   * The request's `:path` as the client sent it (route and query), at most
   * MAX_LOGGED_PATH_CHARS: Envoy's own entry has the path the route rewrote
   * for the upstream.
   */
  readonly path?: string | undefined;
}

const FACT_KEYS = [
  'request_id',
  'token_id',
  'workspace',
  'route',
  'model',
  'requested_model',
  'reason',
  'path',
] as const;

/** The longest path an access line holds; a longer one is cut (Envoy accepts paths of up to 60 KiB). */
export const MAX_LOGGED_PATH_CHARS = 512;

/** `value` cut to at most `max` characters (undefined stays undefined). */
export function capText(value: string | undefined, max: number): string | undefined {
  return value === undefined || value.length <= max ? value : value.slice(0, max);
}

/** The `dynamic_metadata` of a ProcessingResponse carrying `facts`. */
export function factsMetadata(facts: RequestFacts): Struct {
  const fields: Record<string, Value> = {};
  for (const key of FACT_KEYS) {
    const value = key === 'path' ? capText(facts.path, MAX_LOGGED_PATH_CHARS) : facts[key];
    if (value !== undefined) fields[key] = { stringValue: value };
  }
  return { fields: { [METADATA_NAMESPACE]: { structValue: { fields } } } };
}

/** The facts in a request's dynamic metadata (its access-log entry's). */
export function readFacts(metadata: Metadata__Output | undefined): RequestFacts {
  const fields = metadata?.filter_metadata?.[METADATA_NAMESPACE]?.fields;
  if (fields === undefined) return {};
  const facts: Record<string, string> = {};
  for (const key of FACT_KEYS) {
    const value = fields[key]?.stringValue;
    if (typeof value === 'string') facts[key] = value;
  }
  return facts;
}
