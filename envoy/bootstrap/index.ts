// Renders the Envoy bootstrap for the gateway from the settings. The launcher
// (`npm start`), the tests and the checked-in envoy/envoy.yaml all come from
// this one function, so they cannot drift apart. The parts, by what Envoy
// calls them: the listener and its filters (listener.ts), the clusters
// (clusters.ts), the local replies (local-replies.ts), the admin interface
// (admin.ts). What they share with the processor comes from
// processor/contract/ alone; the settings types from processor/config/.
import type { Settings } from '../../processor/config/load.ts';
import { adminInterface } from './admin.ts';
import { clusters } from './clusters.ts';
import { typed } from './common.ts';
import { gatewayListener } from './listener.ts';
import type { Bootstrap } from './types.ts';

export { APPROVAL_FILTER, JSON_USAGE_FILTER, STREAM_USAGE_FILTER } from './common.ts';
export { onGatewayRoute } from './local-replies.ts';

const MAX_DOWNSTREAM_CONNECTIONS = 50_000;

export function renderBootstrap(settings: Settings): Bootstrap {
  return {
    admin: adminInterface(settings.admin),
    layered_runtime: {
      layers: [
        {
          name: 'gateway_defaults',
          static_layer: {
            // Without this, ext_proc ends every gRPC stream to the processor with
            // a reset. Node's HTTP/2 server counts resets as a rapid-reset attack:
            // after about a thousand it closes the connection, and the requests
            // caught in between were answered 503. With it, Envoy half-closes the
            // stream and waits for the processor's trailers: no resets, and one
            // long-lived connection (test/e2e/sustained-load.test.ts).
            'envoy.reloadable_features.ext_proc_graceful_grpc_close': true,
          },
        },
        // What Envoy has when no runtime is configured: runtime changes via /runtime_modify.
        { name: 'admin', admin_layer: {} },
      ],
    },
    // A ceiling on open client connections, so a flood cannot exhaust the host.
    overload_manager: {
      resource_monitors: [
        {
          name: 'envoy.resource_monitors.global_downstream_max_connections',
          typed_config: typed(
            'envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig',
            { max_active_downstream_connections: MAX_DOWNSTREAM_CONNECTIONS },
          ),
        },
      ],
    },
    static_resources: {
      listeners: [gatewayListener(settings)],
      clusters: clusters(settings),
    },
  };
}
