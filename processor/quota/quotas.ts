// The quota and budget decision for one request, and the charging of the
// tokens it used and of what it cost. Limits come from the configuration
// (QuotaPlan); counters from a store. The check answers with a promise
// whichever the store: with the memory store it costs a few map lookups and
// is settled at once, with no I/O; with the Redis store, one round trip.
// A store that fails is the configuration's choice: fail closed (503, the
// default, like the rest of the gateway) or fail open (admit, unmetered).
import type { Logger } from '../log.ts';
import type { GatewayMetrics } from '../metrics/registry.ts';
import type { GatewayError } from '../policy/errors.ts';
import { QUOTA_STORE_UNAVAILABLE, refusalFor } from './errors.ts';
import {
  checksFor,
  isBudgetCheck,
  isTokenLimit,
  type QuotaCheck,
  type QuotaPlan,
  spendChecks,
} from './limits.ts';
import type { AdmitResult, QuotaStore, ReadResult } from './store.ts';

export interface QuotasOptions {
  /** The current limits; read on every call, so a reload takes effect at once. */
  readonly plan: () => QuotaPlan;
  readonly store: QuotaStore;
  /** Admit requests when the store cannot be reached (default: refuse them). */
  readonly failOpen: boolean;
  readonly log: Logger;
  readonly metrics?: GatewayMetrics;
}

export type QuotaVerdict = GatewayError | undefined;

interface PlannedChecks {
  readonly all: readonly QuotaCheck[];
  /** For a request that costs nothing (count_tokens): every check but the budgets. */
  readonly free: readonly QuotaCheck[];
  readonly tokenCounters: readonly QuotaCheck[];
  readonly spendCounters: readonly QuotaCheck[];
}

export class Quotas {
  private readonly options: QuotasOptions;
  /** Checks per token, per plan: built once, not per request. */
  private readonly planned = new WeakMap<QuotaPlan, Map<string, PlannedChecks>>();
  private storeHealthy = true;

  constructor(options: QuotasOptions) {
    this.options = options;
  }

  /**
   * Whether this request may go upstream; counts it when it may. A request
   * that cannot cost anything (`costly` false: count_tokens) is not held to
   * the budgets.
   */
  async admit(tokenId: string, workspaceId: string, costly = true): Promise<QuotaVerdict> {
    const planned = this.checks(tokenId, workspaceId);
    const checks = costly ? planned.all : planned.free;
    if (checks.length === 0) return undefined;
    let result: AdmitResult;
    try {
      result = await this.options.store.admit(checks);
    } catch (error) {
      return this.storeFailed('admit', error);
    }
    this.storeRecovered();
    return refusalFor(result.over, result.now);
  }

  /** Adds tokens reported after the response to the token and workspace counters. Never throws. */
  charge(tokenId: string, workspaceId: string, tokens: number): void {
    if (tokens <= 0) return;
    const { tokenCounters } = this.checks(tokenId, workspaceId);
    this.add(tokenCounters, tokens);
  }

  /**
   * Adds what a request cost (nano-dollars) to the day's and the month's
   * spend of its token and workspace, budget or not. Never throws.
   */
  chargeCost(tokenId: string, workspaceId: string, nanoUsd: number): void {
    if (!(nanoUsd > 0)) return;
    // A whole number a store can add exactly (Redis's INCRBY takes 64-bit integers); a cost of
    // more than $9 million, from absurd usage, is charged as that much, past any budget.
    const amount = Math.min(Math.round(nanoUsd), Number.MAX_SAFE_INTEGER);
    this.add(this.checks(tokenId, workspaceId).spendCounters, amount);
  }

  /** The current window's value of these counters, from the store (`/spend`); a failing store throws. */
  read(checks: readonly QuotaCheck[]): Promise<ReadResult> {
    return Promise.resolve().then(() => this.options.store.read(checks));
  }

  private add(counters: readonly QuotaCheck[], amount: number): void {
    if (counters.length === 0) return;
    // Called now, not in a later turn: a check made after the charge sees it.
    let done: Promise<void>;
    try {
      done = this.options.store.charge(counters, amount);
    } catch (error) {
      this.storeFailed('charge', error);
      return;
    }
    done.then(
      () => this.storeRecovered(),
      (error: unknown) => this.storeFailed('charge', error),
    );
  }

  close(): Promise<void> {
    return this.options.store.close();
  }

  private checks(tokenId: string, workspaceId: string): PlannedChecks {
    const plan = this.options.plan();
    let byToken = this.planned.get(plan);
    if (byToken === undefined) {
      byToken = new Map();
      this.planned.set(plan, byToken);
    }
    const key = `${tokenId}\n${workspaceId}`;
    let checks = byToken.get(key);
    if (checks === undefined) {
      const all = checksFor(plan, tokenId, workspaceId);
      checks = {
        all,
        free: all.filter((check) => !isBudgetCheck(check)),
        tokenCounters: all.filter(isTokenLimit),
        spendCounters: spendChecks(plan, tokenId, workspaceId),
      };
      byToken.set(key, checks);
    }
    return checks;
  }

  private storeFailed(operation: 'admit' | 'charge', error: unknown): QuotaVerdict {
    this.options.metrics?.quotaStoreErrors.inc({ operation });
    // One warning when the store goes away, not one per request.
    if (this.storeHealthy) {
      this.storeHealthy = false;
      this.options.log.warn(
        { operation, err: error, failOpen: this.options.failOpen },
        this.options.failOpen
          ? 'quota store unavailable: admitting requests without quota checks'
          : 'quota store unavailable: refusing requests that have quotas',
      );
    }
    return this.options.failOpen ? undefined : QUOTA_STORE_UNAVAILABLE;
  }

  private storeRecovered(): void {
    if (this.storeHealthy) return;
    this.storeHealthy = true;
    this.options.log.info('quota store available again');
  }
}
