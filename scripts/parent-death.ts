// Envoy must not outlive `npm start`: killed by any signal (SIGKILL
// included), the launcher cannot stop it, and an orphaned Envoy would keep
// the port, serving with nobody reading its log. The processor watches a
// pipe from the launcher (processor/lifecycle/parent.ts); Envoy, a binary we do not
// change, is started through setpriv (util-linux), which sets Linux's
// parent-death signal and then becomes Envoy (same pid): when the launcher
// dies, the kernel sends Envoy SIGTERM, and Envoy exits.
//
// The kernel sends it when the *thread* that forked the child ends, not the
// process. Node forks children from its main thread, which lives exactly as
// long as the launcher; nothing here spawns Envoy from a worker thread.
// (A launcher killed in the instant between the fork and setpriv's prctl()
// would escape it: a window of microseconds, at start only.)
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export const PARENT_DEATH_SIGNAL = 'SIGTERM';

export type ParentDeath =
  | { readonly wrapper: readonly string[] }
  | { readonly wrapper: undefined; readonly warning: string };

/** setpriv's command prefix when it is on PATH and knows --pdeathsig (util-linux 2.33+), else why not. */
export function parentDeathWrapper(env: Readonly<Record<string, string | undefined>>): ParentDeath {
  const setpriv = (env.PATH ?? '')
    .split(delimiter)
    .filter((folder) => folder !== '')
    .map((folder) => join(folder, 'setpriv'))
    .find(executable);
  if (setpriv !== undefined) {
    const wrapper = [setpriv, '--pdeathsig', PARENT_DEATH_SIGNAL, '--'];
    // Tried once: an old setpriv without --pdeathsig, or a sandbox refusing prctl, fails here.
    const probe = spawnSync(setpriv, ['--pdeathsig', PARENT_DEATH_SIGNAL, '--', 'true'], { stdio: 'ignore' });
    if (probe.status === 0) return { wrapper };
  }
  return {
    wrapper: undefined,
    warning:
      `setpriv (util-linux) with --pdeathsig was not found on PATH: if this launcher is killed ` +
      `with SIGKILL, Envoy keeps running and must be stopped by hand (any other way of stopping ` +
      `the launcher stops Envoy too); install util-linux to close that gap`,
  };
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
