// Turns a configuration file (or none) plus the environment into validated
// settings and an immutable policy. Every problem is collected and reported
// together; nothing here runs at import time.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { CatalogModel } from '../policy/catalog.ts';
import { ANTHROPIC, indexCatalog } from '../policy/catalog.ts';
import type { Policy, Workspace } from '../policy/request-policy.ts';
import { hashToken, indexTokens, type StoredToken } from '../policy/tokens.ts';
import type { QuotaStoreSettings } from '../quota/create-store.ts';
import type { QuotaLimits, QuotaPlan } from '../quota/limits.ts';
import { DEFAULT_CATALOG, DEFAULT_PRICES } from './default-catalog.ts';
import { isUnknown, NO_UNKNOWN_IDS, salvageConfig, type UnknownIds } from './salvage.ts';
import { type ConfigFile, configSchema } from './schema.ts';

export type Environment = Readonly<Record<string, string | undefined>>;

export interface Settings {
  readonly listen: ConfigFile['listen'];
  readonly admin: ConfigFile['admin'];
  readonly processor: ConfigFile['processor'];
  readonly upstream: ConfigFile['upstream'];
  readonly limits: ConfigFile['limits'];
  readonly log: ConfigFile['log'];
  readonly metrics: ConfigFile['metrics'];
}

export interface LoadedConfig {
  readonly settings: Settings;
  readonly policy: Policy;
  readonly quotaPlan: QuotaPlan;
  readonly quotaStore: QuotaStoreSettings;
}

export type LoadResult =
  | { readonly ok: true; readonly config: LoadedConfig; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Environment variables that override single settings (handy in containers and tests). */
export const OVERRIDES: ReadonlyArray<
  readonly [variable: string, path: readonly [string, string], number?: true]
> = [
  ['GATEWAY_PORT', ['listen', 'port'], true],
  ['GATEWAY_ADMIN_PORT', ['admin', 'port'], true],
  ['GATEWAY_PROCESSOR_ADDRESS', ['processor', 'address']],
  ['ANTHROPIC_UPSTREAM_URL', ['upstream', 'url']],
  ['ANTHROPIC_UPSTREAM_CA_FILE', ['upstream', 'ca_file']],
  ['LOG_LEVEL', ['log', 'level']],
  ['GATEWAY_METRICS_PORT', ['metrics', 'port'], true],
];

/** Reads the file named by `path` (or by GATEWAY_CONFIG), or starts from defaults when there is none. */
export function loadConfig(env: Environment, path: string | undefined = env.GATEWAY_CONFIG): LoadResult {
  let raw: unknown = {};
  if (path !== undefined && path !== '') {
    try {
      raw = parseYaml(readFileSync(path, 'utf8')) ?? {};
    } catch (error) {
      return { ok: false, problems: [`${path}: ${(error as Error).message}`] };
    }
  }
  return buildConfig(raw, env);
}

export function buildConfig(raw: unknown, env: Environment): LoadResult {
  const withOverrides = applyOverrides(raw, env);
  const parsed = configSchema.safeParse(withOverrides);
  if (!parsed.success) {
    const schemaProblems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    // Check what did pass the schema too, so one run lists every problem.
    const salvaged = salvageConfig(withOverrides);
    const result = salvaged && assemble(salvaged.file, withOverrides, env, salvaged.unknown);
    return { ok: false, problems: [...schemaProblems, ...(result && !result.ok ? result.problems : [])] };
  }
  return assemble(parsed.data, withOverrides, env, NO_UNKNOWN_IDS);
}

/** The checks across entries, and the policy they allow. */
function assemble(
  file: ConfigFile,
  withOverrides: unknown,
  env: Environment,
  unknown: UnknownIds,
): LoadResult {
  const problems: string[] = [];

  const catalogModels: CatalogModel[] = (file.catalog ?? DEFAULT_CATALOG).map(withPrices);
  const catalog = indexCatalog(catalogModels);
  if (catalog.size !== catalogModels.length) problems.push('catalog: model ids must be unique');

  // The built-in workspace may start without its key (a first `npm start`):
  // its requests are then refused until ANTHROPIC_API_KEY is set. A key the
  // configuration names explicitly must be there.
  const warnings: string[] = [];
  const builtInWorkspaces = !hasKey(withOverrides, 'workspaces');
  const workspaces = new Map<string, Workspace>();
  file.workspaces.forEach((workspace, i) => {
    if (workspaces.has(workspace.id)) problems.push(`workspaces.${i}.id: duplicate id ${workspace.id}`);
    const where = `workspaces.${i}.upstream_api_key`;
    const key = readSecret(workspace.upstream_api_key, env, where, builtInWorkspaces ? warnings : problems);
    workspaces.set(workspace.id, { id: workspace.id, upstreamApiKey: key });
  });

  const tokens: StoredToken[] = [];
  const tokenIds = new Set<string>();
  file.tokens.forEach((token, i) => {
    const where = `tokens.${i}`;
    if (tokenIds.has(token.id)) problems.push(`${where}.id: duplicate id ${token.id}`);
    tokenIds.add(token.id);
    if (!workspaces.has(token.workspace) && !isUnknown(unknown.workspaces, token.workspace)) {
      problems.push(`${where}.workspace: no workspace has id ${token.workspace}`);
    }
    for (const model of token.models ?? []) {
      if (catalog.get(model)?.provider !== ANTHROPIC && !isUnknown(unknown.models, model)) {
        problems.push(`${where}.models: ${model} is not an Anthropic model of the catalog`);
      }
    }
    let sha256: Buffer | undefined;
    if (token.sha256 !== undefined) {
      sha256 = Buffer.from(token.sha256, 'hex');
    } else if (token.env !== undefined) {
      const raw = readSecret({ env: token.env }, env, `${where}.env`, problems);
      if (raw !== undefined) sha256 = hashToken(raw);
    }
    if (sha256 !== undefined) {
      tokens.push({
        id: token.id,
        workspace: token.workspace,
        models: token.models === undefined ? undefined : new Set(token.models),
        sha256,
      });
    }
  });
  const tokenIndex = indexTokens(tokens);
  if (tokenIndex.size !== tokens.length) problems.push('tokens: two entries have the same token');

  if (file.admin.port !== undefined) warnings.push(tcpAdminWarning(file.admin.address, file.admin.port));

  const quotaPlan = buildQuotaPlan(file);
  const quotaStore = buildQuotaStore(file.quotas, env, problems);
  warnings.push(...unpricedWarnings(file, catalogModels));

  if (problems.length > 0) return { ok: false, problems };
  const { listen, admin, processor, upstream, limits, log, metrics } = file;
  return {
    ok: true,
    warnings,
    config: {
      settings: { listen, admin, processor, upstream, limits, log, metrics },
      policy: { catalog, tokens: tokenIndex, workspaces },
      quotaPlan,
      quotaStore,
    },
  };
}

/** Envoy's admin interface has no authentication: on TCP, whoever can connect controls Envoy. */
function tcpAdminWarning(address: string, port: number): string {
  return (
    `admin.port: Envoy's admin interface listens on TCP ${address}:${port}, without authentication: ` +
    "anyone who can connect to it can make Envoy log every request's headers (gateway tokens, " +
    'the Anthropic API key), change its runtime or stop it. Unless you need TCP, remove admin.port ' +
    '(and GATEWAY_ADMIN_PORT) to keep it on a Unix socket only this user can open (docs/security.md)'
  );
}

type Limited = { id: string; quota?: QuotaLimits | undefined; budget?: QuotaLimits | undefined };

function buildQuotaPlan(file: ConfigFile): QuotaPlan {
  const limitsOf = (entries: readonly Limited[]) =>
    new Map(
      entries.flatMap((e) =>
        e.quota === undefined && e.budget === undefined ? [] : [[e.id, { ...e.quota, ...e.budget }] as const],
      ),
    );
  return { tokens: limitsOf(file.tokens), workspaces: limitsOf(file.workspaces) };
}

/** A catalog entry with its prices: its own, else the built-in catalog's for the same id, if any. */
function withPrices(model: CatalogModel): CatalogModel {
  const prices = model.prices ?? DEFAULT_PRICES.get(model.id);
  return prices === undefined ? { ...model } : { ...model, prices };
}

/** With budgets set, an Anthropic model without a price is spend no budget sees: say so. */
function unpricedWarnings(file: ConfigFile, models: readonly CatalogModel[]): string[] {
  const budgets = [...file.tokens, ...file.workspaces].some((entry) => entry.budget !== undefined);
  if (!budgets) return [];
  const unpriced = models.filter((m) => m.provider === ANTHROPIC && m.prices === undefined).map((m) => m.id);
  if (unpriced.length === 0) return [];
  return [
    `catalog: ${unpriced.join(', ')} ${unpriced.length === 1 ? 'has' : 'have'} no price: their requests ` +
      'are logged with costUnknown and count toward no budget; give catalog entries `prices` (docs/operations.md)',
  ];
}

function buildQuotaStore(
  quotas: ConfigFile['quotas'],
  env: Environment,
  problems: string[],
): QuotaStoreSettings {
  const failOpen = quotas.fail_open;
  if (quotas.store === 'memory' || quotas.redis === undefined) return { kind: 'memory', failOpen };
  const { url, key_prefix: keyPrefix, timeout_ms: timeoutMs } = quotas.redis;
  const resolved = typeof url === 'string' ? url : readSecret(url, env, 'quotas.redis.url', problems);
  return { kind: 'redis', failOpen, url: resolved ?? '', keyPrefix, timeoutMs };
}

function readSecret(
  source: { env: string } | { file: string },
  env: Environment,
  where: string,
  problems: string[],
): string | undefined {
  if ('env' in source) {
    const value = env[source.env];
    if (value === undefined || value === '') {
      problems.push(`${where}: environment variable ${source.env} is not set`);
      return undefined;
    }
    return value;
  }
  try {
    const value = readFileSync(source.file, 'utf8').replace(/\r?\n$/, '');
    if (value === '') problems.push(`${where}: file ${source.file} is empty`);
    return value === '' ? undefined : value;
  } catch (error) {
    problems.push(
      `${where}: cannot read ${source.file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
    return undefined;
  }
}

function hasKey(raw: unknown, key: string): boolean {
  return raw !== null && typeof raw === 'object' && key in raw;
}

function applyOverrides(raw: unknown, env: Environment): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const result: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const [variable, [section, field], numeric] of OVERRIDES) {
    const value = env[variable];
    if (value === undefined || value === '') continue;
    const current = result[section];
    const base = current !== null && typeof current === 'object' ? (current as Record<string, unknown>) : {};
    result[section] = { ...base, [field]: numeric ? Number(value) : value };
  }
  return result;
}

/** What `npm run cli -- spend` reads: ids, limits, the store and the metrics endpoint. */
export interface SpendView {
  readonly quotaPlan: QuotaPlan;
  readonly quotaStore: QuotaStoreSettings;
  readonly metrics: ConfigFile['metrics'];
  readonly workspaces: readonly string[];
  readonly tokens: readonly string[];
}

/**
 * The configuration as `npm run cli -- spend` needs it, without the tokens'
 * and workspaces' secrets (an operator's shell rarely has them): only the
 * Redis URL is resolved.
 */
export function loadSpendView(
  env: Environment,
  path: string | undefined = env.GATEWAY_CONFIG,
):
  | { readonly ok: true; readonly view: SpendView }
  | { readonly ok: false; readonly problems: readonly string[] } {
  let raw: unknown = {};
  if (path !== undefined && path !== '') {
    try {
      raw = parseYaml(readFileSync(path, 'utf8')) ?? {};
    } catch (error) {
      return { ok: false, problems: [`${path}: ${(error as Error).message}`] };
    }
  }
  const parsed = configSchema.safeParse(applyOverrides(raw, env));
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    };
  }
  const file = parsed.data;
  const problems: string[] = [];
  const quotaStore = buildQuotaStore(file.quotas, env, problems);
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    view: {
      quotaPlan: buildQuotaPlan(file),
      quotaStore,
      metrics: file.metrics,
      workspaces: file.workspaces.map((w) => w.id),
      tokens: file.tokens.map((t) => t.id),
    },
  };
}
