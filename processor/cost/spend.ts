// Each workspace's and token's spend for the current UTC day and month, with
// its budgets: what `npm run cli -- spend` prints and the processor's
// `/spend` answers. Read from the quota store (the spend counters of
// processor/quota/limits.ts, in nano-dollars), in one read.
import {
  BUDGET_NAMES,
  type BudgetName,
  type QuotaCheck,
  type QuotaPlan,
  type QuotaScope,
  spendChecksOf,
  windowEnd,
} from '../quota/limits.ts';
import type { ReadResult } from '../quota/store.ts';
import { formatUsd, nanoToUsd, usdToNano } from './price.ts';

export interface SpendSubject {
  readonly scope: QuotaScope;
  readonly id: string;
}

export interface SpendPeriod {
  readonly spentUsd: number;
  /** null: no budget for this period. */
  readonly budgetUsd: number | null;
  /** Whether the spend has reached the budget: requests are refused until the period ends. */
  readonly reached: boolean;
}

export interface SpendRow extends SpendSubject {
  readonly day: SpendPeriod;
  readonly month: SpendPeriod;
}

export interface SpendReport {
  readonly store: 'memory' | 'redis';
  /** The store's clock when it was read. */
  readonly at: string;
  /** The UTC day (YYYY-MM-DD) and month (YYYY-MM) the spend is of, and when each ends. */
  readonly day: { readonly period: string; readonly resetsAt: string };
  readonly month: { readonly period: string; readonly resetsAt: string };
  readonly rows: readonly SpendRow[];
}

/** The configuration's workspaces, then its tokens, in their order. */
export function spendSubjects(
  workspaces: Iterable<string>,
  tokens: Iterable<string>,
): readonly SpendSubject[] {
  return [
    ...[...workspaces].map((id) => ({ scope: 'workspace' as const, id })),
    ...[...tokens].map((id) => ({ scope: 'token' as const, id })),
  ];
}

/** Reads every subject's day and month counters with `read` (one store call) and makes the report. */
export async function readSpend(
  store: SpendReport['store'],
  plan: QuotaPlan,
  subjects: readonly SpendSubject[],
  read: (checks: readonly QuotaCheck[]) => Promise<ReadResult>,
): Promise<SpendReport> {
  const checks = subjects.flatMap((subject) => spendChecksOf(plan, subject.scope, subject.id));
  const result = await read(checks);
  return spendReport(store, subjects, checks, result);
}

/** The report from counters read: `checks` are spendChecksOf's, two per subject (day, month). */
export function spendReport(
  store: SpendReport['store'],
  subjects: readonly SpendSubject[],
  checks: readonly QuotaCheck[],
  read: ReadResult,
): SpendReport {
  const byCounter = new Map(checks.map((check, i) => [check.counter, { check, value: read.values[i] ?? 0 }]));
  const period = (subject: SpendSubject, limit: BudgetName): SpendPeriod => {
    const found = byCounter.get(`${limit}:${subject.scope}:${subject.id}`);
    const spent = found?.value ?? 0;
    const max = found?.check.max ?? Number.POSITIVE_INFINITY;
    const budget = Number.isFinite(max) ? max : undefined;
    return {
      spentUsd: nanoToUsd(spent),
      budgetUsd: budget === undefined ? null : nanoToUsd(budget),
      reached: budget !== undefined && spent >= budget,
    };
  };
  const [day, month] = BUDGET_NAMES;
  const at = new Date(read.now).toISOString();
  return {
    store,
    at,
    day: { period: at.slice(0, 10), resetsAt: new Date(windowEnd(day, read.now)).toISOString() },
    month: { period: at.slice(0, 7), resetsAt: new Date(windowEnd(month, read.now)).toISOString() },
    rows: subjects.map((subject) => ({
      ...subject,
      day: period(subject, day),
      month: period(subject, month),
    })),
  };
}

/** The report as a table, for a terminal. */
export function renderSpend(report: SpendReport): string {
  const budget = (p: SpendPeriod) =>
    p.budgetUsd === null ? 'none' : `${formatUsd(usdToNano(p.budgetUsd))}${p.reached ? ' (reached)' : ''}`;
  const usd = (value: number) => formatUsd(usdToNano(value));
  const header = ['SCOPE', 'ID', 'DAY SPEND', 'DAY BUDGET', 'MONTH SPEND', 'MONTH BUDGET'];
  const rows = report.rows.map((row) => [
    row.scope,
    row.id,
    usd(row.day.spentUsd),
    budget(row.day),
    usd(row.month.spentUsd),
    budget(row.month),
  ]);
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    `spend on ${report.day.period} (UTC day, resets ${report.day.resetsAt}) and in ${report.month.period} ` +
      `(UTC month, resets ${report.month.resetsAt}); store: ${report.store}, read at ${report.at}`,
    '',
    line(header),
    ...rows.map(line),
    '',
  ].join('\n');
}
