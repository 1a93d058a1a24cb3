// What the gateway does with each finished request's access record: charges
// its tokens to the quotas and its cost to the spend counters (budgets),
// writes its access line and counts it in the metrics. Called once per
// request, when Envoy reports it (processor/accesslog/service.ts).
import { nanoToUsd } from '../cost/price.ts';
import { costFields, requestCost } from '../cost/request-cost.ts';
import type { Logger } from '../log.ts';
import { type GatewayMetrics, NONE } from '../metrics/registry.ts';
import type { Catalog } from '../policy/catalog.ts';
import type { Quotas } from '../quota/quotas.ts';
import type { AccessRecord } from './access-record.ts';
import { quotaTokens, USAGE_KINDS } from './usage.ts';

export interface SettleDeps {
  readonly log: Logger;
  readonly metrics?: GatewayMetrics | undefined;
  readonly quotas?: Quotas | undefined;
  /** The catalog in force, for the models' prices; without it no cost is known. */
  readonly catalog?: (() => Catalog) | undefined;
}

export function settle(deps: SettleDeps, record: AccessRecord): void {
  const { usage, tokenId, workspace } = record;
  if (usage !== undefined && tokenId !== undefined && workspace !== undefined) {
    const owed = quotaTokens(usage);
    if (owed > 0) deps.quotas?.charge(tokenId, workspace, owed);
  }
  const prices = record.model === undefined ? undefined : deps.catalog?.().get(record.model)?.prices;
  const cost = requestCost(record, prices);
  if (cost?.known === true && tokenId !== undefined && workspace !== undefined) {
    deps.quotas?.chargeCost(tokenId, workspace, cost.nano);
  }
  deps.log.info({ ...record, ...costFields(cost) }, 'access');

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
  if (cost?.known === true && cost.nano > 0) {
    metrics.cost.inc({ workspace: workspaceLabel, token, model }, nanoToUsd(cost.nano));
  } else if (cost?.known === false) {
    metrics.costUnknown.inc({ workspace: workspaceLabel, model });
  }
  const counted = record.countedInputTokens;
  if (counted !== undefined && counted > 0)
    metrics.countedTokens.inc({ workspace: workspaceLabel, token, model }, counted);
}
