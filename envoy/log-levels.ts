// Envoy at debug or trace logs every request's headers, before and after the
// processor rewrote them: the clients' gateway tokens and the Anthropic API
// key the processor injects. So those levels are refused, on the command line
// (--log-level/-l, --component-log-level) however they got there, unless
// GATEWAY_ALLOW_ENVOY_DEBUG_LOGS=1 says the operator knows, and then with a
// loud warning. (At run time, the admin interface could raise the level too:
// it is a Unix socket only Envoy's user can open; envoy/bootstrap/.)

/** The setting that allows Envoy's debug and trace levels. */
export const ALLOW_ENVOY_DEBUG_LOGS = 'GATEWAY_ALLOW_ENVOY_DEBUG_LOGS';

/** Envoy's levels that print request headers. */
const SECRET_LEVELS: ReadonlySet<string> = new Set(['debug', 'trace']);

/**
 * Where Envoy's command line asks for a level that logs headers, as
 * `--log-level debug` or `--component-log-level http:trace`; empty when none.
 */
export function secretLoggingLevels(args: readonly string[]): string[] {
  const found: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] as string;
    const equals = arg.indexOf('=');
    const flag = equals === -1 ? arg : arg.slice(0, equals);
    const value = equals === -1 ? args[i + 1] : arg.slice(equals + 1);
    if (value === undefined) continue;
    if (flag === '--log-level' || flag === '-l') {
      if (SECRET_LEVELS.has(value.trim().toLowerCase())) found.push(`${flag} ${value}`);
    } else if (flag === '--component-log-level') {
      for (const pair of value.split(',')) {
        const level = pair.slice(pair.indexOf(':') + 1);
        if (SECRET_LEVELS.has(level.trim().toLowerCase())) found.push(`${flag} ${pair}`);
      }
    }
  }
  return found;
}

export type LogLevelCheck =
  | { readonly ok: true; readonly warning?: string }
  | { readonly ok: false; readonly problem: string };

/** Whether Envoy may start with `args`, given the environment's permission. */
export function checkEnvoyLogLevels(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): LogLevelCheck {
  const levels = secretLoggingLevels(args);
  if (levels.length === 0) return { ok: true };
  const asked = levels.join(', ');
  if (env[ALLOW_ENVOY_DEBUG_LOGS] !== '1') {
    return {
      ok: false,
      problem:
        `refusing to start Envoy with ${asked}: at debug and trace, Envoy logs every request's ` +
        'headers, with the gateway tokens of clients and the Anthropic API key. Use warn or info ' +
        `(ENVOY_LOG_LEVEL), or set ${ALLOW_ENVOY_DEBUG_LOGS}=1 to allow it on a test setup ` +
        '(docs/security.md).',
    };
  }
  return {
    ok: true,
    warning: [
      '*'.repeat(78),
      `WARNING: Envoy runs with ${asked} (${ALLOW_ENVOY_DEBUG_LOGS}=1).`,
      "Its log WILL CONTAIN SECRETS: every client's gateway token and the Anthropic",
      'API key, in clear. Use throw-away keys, keep the log private, delete it after.',
      '*'.repeat(78),
    ].join('\n'),
  };
}

export type LauncherLogLevel =
  | {
      readonly ok: true;
      readonly level: string;
      readonly allowDebugLogs: boolean;
      readonly warning?: string;
    }
  | { readonly ok: false; readonly problem: string };

/** `npm start`'s Envoy log level: ENVOY_LOG_LEVEL (default warn), checked as above. */
export function launcherLogLevel(env: Readonly<Record<string, string | undefined>>): LauncherLogLevel {
  const level = env.ENVOY_LOG_LEVEL || 'warn';
  const check = checkEnvoyLogLevels(['--log-level', level], env);
  if (!check.ok) return check;
  return {
    ok: true,
    level,
    allowDebugLogs: check.warning !== undefined,
    ...(check.warning === undefined ? {} : { warning: check.warning }),
  };
}
