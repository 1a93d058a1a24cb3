// The processor's GET /spend (beside /metrics): the spend report of the
// configuration in force, read from the processor's own quota store. With
// the memory store the counters live only in the processor, so this is how
// `npm run cli -- spend` reaches them.
import type { LoadedConfig } from '../config/load.ts';
import type { Quotas } from '../quota/quotas.ts';
import { readSpend, type SpendReport, spendSubjects } from './spend.ts';

export function spendNow(
  config: LoadedConfig,
  store: SpendReport['store'],
  quotas: Quotas,
): Promise<SpendReport> {
  const { policy, quotaPlan } = config;
  const tokens = [...policy.tokens.values()].map((token) => token.id);
  return readSpend(store, quotaPlan, spendSubjects(policy.workspaces.keys(), tokens), (checks) =>
    quotas.read(checks),
  );
}
