// Envoy's admin interface.
import type { Settings } from '../../processor/config/load.ts';
import { ADMIN_SOCKET_MODE } from '../admin.ts';
import type { Admin } from './types.ts';

/**
 * Envoy's admin interface has no authentication, and whoever reaches it can
 * raise Envoy's log level to debug (which logs every request's headers: the
 * gateway tokens and the Anthropic key), change its runtime or stop it. So it
 * listens on a Unix socket only Envoy's user can open; without a path here,
 * envoy/run.ts puts one in the run's private directory. TCP only when
 * admin.port is set, which the configuration warns about.
 */
export function adminInterface(admin: Settings['admin']): Admin {
  if (admin.port !== undefined) {
    return { address: { socket_address: { address: admin.address, port_value: admin.port } } };
  }
  if (admin.socket !== undefined) {
    return { address: { pipe: { path: admin.socket, mode: ADMIN_SOCKET_MODE } } };
  }
  return {};
}
