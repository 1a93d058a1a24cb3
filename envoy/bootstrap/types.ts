// The parts of the bootstrap by their Envoy names: the types generated from
// Envoy's protos (scripts/gen-bootstrap-types.ts), with what is newer than
// those protos (newer-protos.ts).
import './newer-protos.ts';

export type {
  Any,
  Bootstrap,
  envoy_config_accesslog_v3_AccessLog as AccessLog,
  envoy_config_accesslog_v3_AccessLogFilter as AccessLogFilter,
  envoy_config_bootstrap_v3_Admin as Admin,
  envoy_config_cluster_v3_Cluster as Cluster,
  envoy_config_core_v3_Address as Address,
  envoy_config_core_v3_HealthCheck as HealthCheck,
  envoy_config_core_v3_Http2ProtocolOptions as Http2ProtocolOptions,
  envoy_config_core_v3_TransportSocket as TransportSocket,
  envoy_config_listener_v3_Listener as Listener,
  envoy_config_route_v3_Route as Route,
  envoy_config_route_v3_RouteMatch as RouteMatch,
  envoy_extensions_filters_http_json_to_metadata_v3_JsonToMetadata_Rule as JsonToMetadataRule,
  envoy_extensions_filters_network_http_connection_manager_v3_HttpFilter as HttpFilter,
  envoy_extensions_filters_network_http_connection_manager_v3_LocalReplyConfig as LocalReplyConfig,
  envoy_extensions_filters_network_http_connection_manager_v3_ResponseMapper as ResponseMapper,
  TypedConfigs,
} from '../../protos/generated/bootstrap-json.ts';
