// What the gateway does with each finished request's access record: charges
// its tokens to the quotas, writes its access line and counts it in the
// metrics. Called once per request, when Envoy reports it
// (processor/accesslog/service.ts).
import type { Logger } from '../log.ts';
import { type GatewayMetrics, NONE } from '../metrics/registry.ts';
import type { Quotas } from '../quota/quotas.ts';
import type { AccessRecord } from './access-record.ts';
import { quotaTokens, USAGE_KINDS } from './usage.ts';

export interface SettleDeps {
  readonly log: Logger;
  readonly metrics?: GatewayMetrics | undefined;
  readonly quotas?: Quotas | undefined;
}

export function settle(deps: SettleDeps, record: AccessRecord): void {
  const { usage, tokenId, workspace } = record;
  if (usage !== undefined && tokenId !== undefined && workspace !== undefined) {
    const owed = quotaTokens(usage);
    if (owed > 0) deps.quotas?.charge(tokenId, workspace, owed);
  }
  deps.log.info(record, 'access');

  const metrics = deps.metrics;
  if (metrics === undefined) return;
  const workspaceLabel = workspace ?? NONE;
  const token = tokenId ?? NONE;
  const model = record.model ?? NONE;
  const route = record.route ?? NONE;
  metrics.requests.inc({ workspace: workspaceLabel, token, model, route, status: String(record.status) });
  if (record.ttfbMs !== undefined) metrics.timeToFirstByte.observe({ route, model }, record.ttfbMs / 1000);
  if (record.latencyMs !== undefined) metrics.latency.observe({ route, model }, record.latencyMs / 1000);
  if (usage !== undefined) {
    for (const kind of USAGE_KINDS) {
      const value = usage[kind];
      if (value > 0)
        metrics.tokens.inc(
          { workspace: workspaceLabel, token, model, kind: kind.replace(/_tokens$/, '') },
          value,
        );
    }
  }
  const counted = record.countedInputTokens;
  if (counted !== undefined && counted > 0)
    metrics.countedTokens.inc({ workspace: workspaceLabel, token, model }, counted);
}
