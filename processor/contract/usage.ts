// Where usage travels from Envoy to the processor: Envoy's own filters read
// it from each response as it passes (sse_to_metadata for a stream,
// json_to_metadata for a JSON answer) and write it into one namespace of the
// request's dynamic metadata, one key per field; the access-log entry of the
// request carries that metadata to the processor. envoy/bootstrap/ renders
// the filters' rules from the lists below, processor/accesslog/ reads the
// keys back: the names are defined once, here.

/** The dynamic metadata namespace the usage filters write. */
export const USAGE_NAMESPACE = 'anthropic_gateway.usage';

/** The keys under USAGE_NAMESPACE. */
export const USAGE_KEYS = [
  'input_tokens',
  'output_tokens',
  'cache_creation_input_tokens',
  'cache_read_input_tokens',
  // The split of cache writes by lifetime, priced differently.
  'ephemeral_5m_input_tokens',
  'ephemeral_1h_input_tokens',
  // count_tokens' answer: counted, not consumed.
  'counted_input_tokens',
] as const;

export type UsageKey = (typeof USAGE_KEYS)[number];

/** One value to read: the JSON path to it, and the key it is written under. */
export interface UsageRule {
  readonly path: readonly string[];
  readonly key: UsageKey;
}

const USAGE_FIELDS: ReadonlyArray<readonly [readonly string[], UsageKey]> = [
  [['input_tokens'], 'input_tokens'],
  [['output_tokens'], 'output_tokens'],
  [['cache_creation_input_tokens'], 'cache_creation_input_tokens'],
  [['cache_read_input_tokens'], 'cache_read_input_tokens'],
  [['cache_creation', 'ephemeral_5m_input_tokens'], 'ephemeral_5m_input_tokens'],
  [['cache_creation', 'ephemeral_1h_input_tokens'], 'ephemeral_1h_input_tokens'],
];

const under = (prefix: readonly string[]): UsageRule[] =>
  USAGE_FIELDS.map(([path, key]) => ({ path: [...prefix, ...path], key }));

/**
 * An SSE stream's events: `message_start` carries `message.usage`, each
 * `message_delta` the cumulative `usage` so far. Both write the same keys,
 * and a later event's value replaces an earlier one (never adds to it), so
 * cache tokens repeated by message_delta are counted once.
 */
export const STREAM_USAGE_RULES: readonly UsageRule[] = [...under(['message', 'usage']), ...under(['usage'])];

/** A JSON answer: a message's top-level `usage`, or count_tokens' `input_tokens`. */
export const JSON_USAGE_RULES: readonly UsageRule[] = [
  ...under(['usage']),
  { path: ['input_tokens'], key: 'counted_input_tokens' },
];
