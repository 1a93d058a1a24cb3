// A client of Envoy's admin interface (stats, readiness, listeners), which
// listens on a Unix socket (envoy/bootstrap/admin.ts: adminInterface) or, when TCP
// was chosen, on host:port. The shell equivalent is
//   curl --unix-socket /path/to/admin.sock http://localhost/stats
import { request } from 'node:http';

/** The admin socket's mode: only Envoy's user may connect (connecting needs write permission). */
export const ADMIN_SOCKET_MODE = 0o600;

export interface AdminResponse {
  readonly status: number;
  readonly body: string;
}

export interface EnvoyAdmin {
  /** `unix:/path/admin.sock`, or `host:port` when the admin interface is on TCP. */
  readonly address: string;
  /** The Unix socket's path; undefined on TCP. */
  readonly socketPath: string | undefined;
  /** One request to the admin interface (`/stats?filter=...`, `/ready`). */
  request(path: string, method?: 'GET' | 'POST'): Promise<AdminResponse>;
  /** A GET whose answer must be 200: its body. */
  get(path: string): Promise<string>;
  /** The value of one counter or gauge, 0 when Envoy has none of that name (yet). */
  stat(name: string): Promise<number>;
}

/** Regular-expression metacharacters escaped, for /stats?filter= */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function envoyAdmin(address: string): EnvoyAdmin {
  const socketPath = address.startsWith('unix:') ? address.slice('unix:'.length) : undefined;
  const target = (() => {
    if (socketPath !== undefined) return { socketPath };
    const colon = address.lastIndexOf(':');
    return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(address.slice(colon + 1)) };
  })();
  const admin: EnvoyAdmin = {
    address,
    socketPath,
    request: (path, method = 'GET') =>
      new Promise((resolve, reject) => {
        const req = request({ ...target, path, method, headers: { host: 'localhost' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      }),
    get: async (path) => {
      const response = await admin.request(path);
      if (response.status !== 200) {
        throw new Error(`Envoy admin ${path}: ${response.status} ${response.body.slice(0, 200)}`);
      }
      return response.body;
    },
    stat: async (name) => {
      const body = await admin.get(`/stats?filter=${encodeURIComponent(`^${literal(name)}$`)}`);
      const match = new RegExp(`^${literal(name)}: (\\d+)$`, 'm').exec(body);
      return match === null ? 0 : Number(match[1]);
    },
  };
  return admin;
}
