// What a finished request owes its quotas and budgets: its tokens to the
// token and workspace quota counters, its cost to their spend counters. The
// counters are the quota module's (processor/quota/quotas.ts); a request
// without a known token and workspace owes nothing.
import type { RequestCost } from '../cost/request-cost.ts';
import type { Quotas } from '../quota/quotas.ts';
import type { AccessRecord } from './access-record.ts';
import { quotaTokens } from './usage.ts';

/** The quota charges a request's counters get from it. */
export type QuotaCharges = Pick<Quotas, 'charge' | 'chargeCost'>;

/** Charges `record`'s tokens and `cost` to its token's and workspace's counters. Never throws for the store. */
export function chargeRequest(quotas: QuotaCharges, record: AccessRecord, cost: RequestCost): void {
  const { usage, tokenId, workspace } = record;
  if (tokenId === undefined || workspace === undefined) return;
  if (usage !== undefined) {
    const owed = quotaTokens(usage);
    if (owed > 0) quotas.charge(tokenId, workspace, owed);
  }
  if (cost?.known === true) quotas.chargeCost(tokenId, workspace, cost.nano);
}
