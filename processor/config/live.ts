// Live configuration: the processor re-reads its configuration file on SIGHUP
// and when the file changes, without a restart. A file with problems is
// rejected, every problem logged, and the previous configuration keeps
// serving. What the processor decides with (tokens, workspaces, catalog) and
// its log level change at once; settings that Envoy's bootstrap or the gRPC
// server were built from take effect only after a restart, and a reload that
// changes them says so.
import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from '../log.ts';
import type { ConfigMetrics } from '../metrics/registry.ts';
import type { Policy } from '../policy/request-policy.ts';
import { type Environment, type LoadedConfig, type LoadResult, loadConfig } from './load.ts';

/** Sections read once at start: by Envoy (its bootstrap), the gRPC or the metrics server. */
export const RESTART_ONLY_SETTINGS = [
  'listen',
  'admin',
  'processor',
  'upstream',
  'limits',
  'metrics',
] as const;
/**
 * Every section of the file that changes only with a restart: the settings
 * above, and the quota store (the limits, set per token and workspace, are live).
 */
export const RESTART_ONLY_SECTIONS: readonly string[] = [...RESTART_ONLY_SETTINGS, 'quotas'];

/** Editors and Kubernetes replace a file in several steps: wait for the last. */
const SETTLE_MS = 100;

export type ReloadOutcome =
  | { readonly applied: true; readonly needRestart: readonly string[] }
  | { readonly applied: false; readonly problems: readonly string[] };

export interface LiveConfigOptions {
  readonly env: Environment;
  /** The configuration file; without one only SIGHUP reloads (secret files, say). */
  readonly path: string | undefined;
  readonly initial: LoadedConfig;
  readonly log: Logger;
  /** Replaces loadConfig (tests). */
  readonly load?: (env: Environment, path: string | undefined) => LoadResult;
  /** Where to count reloads and show the configuration in force. */
  readonly metrics?: ConfigMetrics | undefined;
}

export interface LiveConfig {
  /** The policy now in force; the ext_proc handler reads it once per stream. */
  readonly policy: () => Policy;
  readonly current: () => LoadedConfig;
  /** Reads the file now and applies it if it has no problem. */
  reload(trigger: string): ReloadOutcome;
  /** Reloads whenever the file changes, until close(). */
  watch(): void;
  close(): void;
}

export function createLiveConfig(options: LiveConfigOptions): LiveConfig {
  const { env, path, log } = options;
  const load = options.load ?? loadConfig;
  let current = options.initial;
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  // The file content last tried, so that a burst of events for one write, or
  // a touch that changes nothing, does not reload (or log a rejection) again.
  let lastSeen = path === undefined ? undefined : fingerprint(path);

  /** The configuration in force is the one of the file content `sha256` (none without a file), loaded now. */
  const inForce = (sha256: string | undefined) => {
    const metrics = options.metrics;
    if (metrics === undefined) return;
    metrics.loadedAt.set(Date.now() / 1000);
    metrics.info.reset();
    if (sha256 !== undefined) metrics.info.set({ sha256 }, 1);
  };
  inForce(lastSeen);

  const reload = (trigger: string): ReloadOutcome => {
    if (path !== undefined) lastSeen = fingerprint(path);
    const loaded = load(env, path);
    if (!loaded.ok) {
      options.metrics?.reloads.inc({ outcome: 'failure' });
      log.error(
        { trigger, file: path, problems: loaded.problems },
        'configuration rejected; the previous configuration keeps serving',
      );
      return { applied: false, problems: loaded.problems };
    }
    for (const warning of loaded.warnings) log.warn({ trigger, warning }, 'configuration warning');
    const needRestart = changedRestartOnly(current, loaded.config);
    if (needRestart.length > 0) {
      log.warn(
        { trigger, settings: needRestart },
        'these settings change only with a restart; the running values stay until then',
      );
    }
    if (loaded.config.settings.log.level !== log.level) log.level = loaded.config.settings.log.level;
    // Keep the running values of what cannot change live, so that current()
    // always describes what is really in force.
    current = {
      ...loaded.config,
      settings: { ...current.settings, log: loaded.config.settings.log },
      quotaStore: current.quotaStore,
    };
    options.metrics?.reloads.inc({ outcome: 'success' });
    inForce(lastSeen);
    const { policy } = current;
    log.info(
      {
        trigger,
        tokens: policy.tokens.size,
        workspaces: policy.workspaces.size,
        models: policy.catalog.size,
      },
      'configuration reloaded',
    );
    return { applied: true, needRestart };
  };

  const onFileEvent = () => {
    if (path === undefined) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (fingerprint(path) !== lastSeen) reload('file change');
    }, SETTLE_MS);
    timer.unref();
  };

  return {
    policy: () => current.policy,
    current: () => current,
    reload,
    watch: () => {
      if (path === undefined || watcher !== undefined) return;
      const name = basename(path);
      // The folder, not the file: an editor or a ConfigMap update replaces the
      // file (a new inode), which a watch on the file itself would not follow.
      watcher = watch(dirname(resolve(path)), (_event, changed) => {
        // Kubernetes swaps a `..data` symlink; anything else in the folder is not ours.
        if (changed === null || changed === name || changed.startsWith('..')) onFileEvent();
      });
      watcher.on('error', (error) => {
        log.warn({ err: error, file: path }, 'cannot watch the configuration file; SIGHUP still reloads it');
      });
      watcher.unref();
    },
    close: () => {
      clearTimeout(timer);
      watcher?.close();
      watcher = undefined;
    },
  };
}

function changedRestartOnly(running: LoadedConfig, next: LoadedConfig): string[] {
  const changed: string[] = RESTART_ONLY_SETTINGS.filter(
    (section) => JSON.stringify(running.settings[section]) !== JSON.stringify(next.settings[section]),
  );
  // Compared, never logged: a Redis URL may hold a password.
  if (JSON.stringify(running.quotaStore) !== JSON.stringify(next.quotaStore)) changed.push('quotas');
  return changed;
}

function fingerprint(path: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return undefined;
  }
}
