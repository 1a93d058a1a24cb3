// Token usage as the upstream reports it. Anthropic reports usage cumulatively:
// a streamed response's message_start carries the input side, and each
// message_delta repeats the running totals, so a later report replaces the
// fields it names and never adds to them (Envoy's usage filters overwrite a
// key with each report: processor/contract/usage.ts). That is what keeps
// cache_creation_input_tokens and cache_read_input_tokens counted once.

export const USAGE_KINDS = [
  'input_tokens',
  'output_tokens',
  'cache_creation_input_tokens',
  'cache_read_input_tokens',
] as const;

export type UsageKind = (typeof USAGE_KINDS)[number];

export type Usage = Record<UsageKind, number>;

export function emptyUsage(): Usage {
  return { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
}

/**
 * The tokens a request charges against its quotas: input, cache writes and
 * output. Cache reads are left out, as Anthropic leaves them out of its own
 * input-token rate limits (docs/operations.md, "Quotas").
 */
export function quotaTokens(usage: Usage): number {
  return usage.input_tokens + usage.cache_creation_input_tokens + usage.output_tokens;
}
