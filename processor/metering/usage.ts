// Token usage as the upstream reports it. Anthropic reports usage cumulatively:
// a streamed response's message_start carries the input side, and each
// message_delta repeats the running totals, so a later report replaces the
// fields it names and never adds to them. That is what keeps
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
 * Overlays one usage report (a parsed `usage` object) on `usage`. Fields that
 * are absent, null or not a non-negative number are ignored. Returns whether
 * anything changed.
 */
export function applyUsageReport(usage: Usage, report: unknown): boolean {
  if (report === null || typeof report !== 'object') return false;
  const fields = report as Record<string, unknown>;
  let changed = false;
  for (const kind of USAGE_KINDS) {
    const value = fields[kind];
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0 && value !== usage[kind]) {
      usage[kind] = Math.trunc(value);
      changed = true;
    }
  }
  return changed;
}

/**
 * The tokens a request charges against its quotas: input, cache writes and
 * output. Cache reads are left out, as Anthropic leaves them out of its own
 * input-token rate limits (docs/operations.md, "Quotas").
 */
export function quotaTokens(usage: Usage): number {
  return usage.input_tokens + usage.cache_creation_input_tokens + usage.output_tokens;
}
