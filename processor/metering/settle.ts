// What the gateway does with each finished request's access record, in this
// order: prices it (processor/cost/request-cost.ts), charges its tokens and
// cost to the quotas and budgets (charge.ts), writes its access line, and
// counts it in the metrics (request-metrics.ts). Called once per request,
// when Envoy reports it (processor/accesslog/service.ts).
import { costFields, requestCost } from '../cost/request-cost.ts';
import type { Logger } from '../log.ts';
import type { GatewayMetrics } from '../metrics/registry.ts';
import type { Catalog } from '../policy/catalog.ts';
import type { Quotas } from '../quota/quotas.ts';
import type { AccessRecord } from './access-record.ts';
import { chargeRequest } from './charge.ts';
import { countRequest } from './request-metrics.ts';

export interface SettleDeps {
  readonly log: Logger;
  readonly metrics?: GatewayMetrics | undefined;
  readonly quotas?: Quotas | undefined;
  /** The catalog in force, for the models' prices; without it no cost is known. */
  readonly catalog?: (() => Catalog) | undefined;
}

export function settle(deps: SettleDeps, record: AccessRecord): void {
  const prices = record.model === undefined ? undefined : deps.catalog?.().get(record.model)?.prices;
  const cost = requestCost(record, prices);
  if (deps.quotas !== undefined) chargeRequest(deps.quotas, record, cost);
  deps.log.info({ ...record, ...costFields(cost) }, 'access');
  if (deps.metrics !== undefined) countRequest(deps.metrics, record, cost);
}
