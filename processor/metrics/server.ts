// Serves the metrics for Prometheus on their own port, apart from Envoy's
// listener and the ext_proc port: GET /metrics, and the JSON `routes` given
// (GET /spend: docs/operations.md, "Seeing spend"), nothing else.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface RunningMetricsServer {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

/** A JSON document served at its path (GET); a failure answers 503. */
export type JsonRoutes = Readonly<Record<string, () => Promise<unknown>>>;

export async function startMetricsServer(
  registry: Registry,
  address: string,
  port: number,
  routes: JsonRoutes = {},
): Promise<RunningMetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (route !== undefined && req.method === 'GET') {
      route().then(
        (value) =>
          res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(value)}\n`),
        () => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"unavailable"}\n'),
      );
      return;
    }
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
