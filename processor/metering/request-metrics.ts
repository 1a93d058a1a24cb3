// How one finished request counts in the Prometheus metrics
// (processor/metrics/registry.ts): the request, its latencies, its tokens,
// its cost (or that it is unknown) and count_tokens' counted tokens. Client
// text never becomes a label: a model is one of the catalog's, or none.
import { nanoToUsd } from '../cost/price.ts';
import type { RequestCost } from '../cost/request-cost.ts';
import { type GatewayMetrics, NONE } from '../metrics/registry.ts';
import type { AccessRecord } from './access-record.ts';
import { USAGE_KINDS } from './usage.ts';

export function countRequest(metrics: GatewayMetrics, record: AccessRecord, cost: RequestCost): void {
  const { usage } = record;
  const workspace = record.workspace ?? NONE;
  const token = record.tokenId ?? NONE;
  const model = record.model ?? NONE;
  const route = record.route ?? NONE;
  metrics.requests.inc({ workspace, token, model, route, status: String(record.status) });
  if (record.ttfbMs !== undefined) metrics.timeToFirstByte.observe({ route, model }, record.ttfbMs / 1000);
  if (record.latencyMs !== undefined) metrics.latency.observe({ route, model }, record.latencyMs / 1000);
  if (usage !== undefined) {
    for (const kind of USAGE_KINDS) {
      const value = usage[kind];
      if (value > 0)
        metrics.tokens.inc({ workspace, token, model, kind: kind.replace(/_tokens$/, '') }, value);
    }
  }
  if (cost?.known === true && cost.nano > 0) {
    metrics.cost.inc({ workspace, token, model }, nanoToUsd(cost.nano));
  } else if (cost?.known === false) {
    metrics.costUnknown.inc({ workspace, model });
  }
  const counted = record.countedInputTokens;
  if (counted !== undefined && counted > 0) metrics.countedTokens.inc({ workspace, token, model }, counted);
}
