// Envoy's debug and trace levels log request headers, secrets included:
// refused unless GATEWAY_ALLOW_ENVOY_DEBUG_LOGS=1, then with a warning.
// (test/e2e/envoy-admin.test.ts runs `npm start` both ways.)
import { describe, expect, it } from 'vitest';
import {
  ALLOW_ENVOY_DEBUG_LOGS,
  checkEnvoyLogLevels,
  launcherLogLevel,
  secretLoggingLevels,
} from '../../envoy/log-levels.ts';

describe("Envoy's log levels", () => {
  it('finds debug and trace however the command line asks for them', () => {
    expect(
      secretLoggingLevels([
        '--log-level',
        'debug',
        '-l',
        'TRACE',
        '--log-level=trace',
        '--component-log-level',
        'upstream:info,http:debug,router:trace',
        '--component-log-level=ext_proc:debug',
      ]),
    ).toEqual([
      '--log-level debug',
      '-l TRACE',
      '--log-level trace',
      '--component-log-level http:debug',
      '--component-log-level router:trace',
      '--component-log-level ext_proc:debug',
    ]);
  });

  it('lets every other level, and other flags, through', () => {
    for (const level of ['warn', 'warning', 'info', 'error', 'critical', 'off']) {
      expect(secretLoggingLevels(['--log-level', level, '--component-log-level', `http:${level}`])).toEqual(
        [],
      );
    }
    // A flag's value that merely looks like a level is no level.
    expect(secretLoggingLevels(['-c', 'debug', '--service-node', 'trace', '--log-level'])).toEqual([]);
  });

  it('refuses them without the setting, naming the setting', () => {
    const check = checkEnvoyLogLevels(['--log-level', 'debug'], {});
    expect(check).toEqual({ ok: false, problem: expect.stringContaining(`${ALLOW_ENVOY_DEBUG_LOGS}=1`) });
    expect(checkEnvoyLogLevels(['--log-level', 'debug'], { [ALLOW_ENVOY_DEBUG_LOGS]: 'yes' }).ok).toBe(false);
  });

  it('allows them with the setting, with a warning that secrets will be logged', () => {
    const check = checkEnvoyLogLevels(['--component-log-level', 'http:trace'], {
      [ALLOW_ENVOY_DEBUG_LOGS]: '1',
    });
    expect(check).toEqual({ ok: true, warning: expect.stringMatching(/WILL CONTAIN SECRETS/) });
  });

  it('gives the launcher ENVOY_LOG_LEVEL, warn by default', () => {
    expect(launcherLogLevel({})).toEqual({ ok: true, level: 'warn', allowDebugLogs: false });
    expect(launcherLogLevel({ ENVOY_LOG_LEVEL: 'info' })).toEqual({
      ok: true,
      level: 'info',
      allowDebugLogs: false,
    });
    expect(launcherLogLevel({ ENVOY_LOG_LEVEL: 'debug' }).ok).toBe(false);
    expect(launcherLogLevel({ ENVOY_LOG_LEVEL: 'debug', [ALLOW_ENVOY_DEBUG_LOGS]: '1' })).toMatchObject({
      ok: true,
      level: 'debug',
      allowDebugLogs: true,
    });
  });
});
