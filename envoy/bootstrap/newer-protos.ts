// What the bootstrap uses that is newer than the protos in @grpc/grpc-js-xds
// (protos/generated/bootstrap-json.ts is generated from those, and they lag
// Envoy 1.40's API): two extension messages and a few fields of older
// messages, typed by hand from Envoy's API reference and added to the
// generated interfaces by declaration merging. Drop an entry once the
// generated types have it.
import type {
  envoy_config_common_mutation_rules_v3_HeaderMutation,
  envoy_config_core_v3_TypedExtensionConfig,
  envoy_extensions_filters_http_json_to_metadata_v3_JsonToMetadata_Rule,
  envoy_type_matcher_v3_MetadataMatcher,
  envoy_type_matcher_v3_StringMatcher,
} from '../../protos/generated/bootstrap-json.ts';

/** envoy.extensions.filters.http.sse_to_metadata.v3.SseToMetadata (Envoy 1.37+). */
export interface SseToMetadata {
  readonly response_rules?: {
    readonly content_parser?: envoy_config_core_v3_TypedExtensionConfig;
    readonly max_event_size?: number;
  };
}

/** envoy.extensions.content_parsers.json.v3.JsonContentParser (Envoy 1.37+). */
export interface JsonContentParser {
  readonly rules?: ReadonlyArray<{
    readonly rule?: envoy_extensions_filters_http_json_to_metadata_v3_JsonToMetadata_Rule;
  }>;
}

declare module '../../protos/generated/bootstrap-json.ts' {
  interface TypedConfigs {
    'envoy.extensions.filters.http.sse_to_metadata.v3.SseToMetadata': SseToMetadata;
    'envoy.extensions.content_parsers.json.v3.JsonContentParser': JsonContentParser;
  }
  /** sourced_metadata: the request's dynamic metadata (Envoy 1.35+, the successor of `metadata`). */
  interface envoy_config_rbac_v3_Principal {
    readonly sourced_metadata?: { readonly metadata_matcher?: envoy_type_matcher_v3_MetadataMatcher };
  }
  /** request_trailers_mutations (Envoy 1.37+). */
  interface envoy_extensions_filters_http_header_mutation_v3_Mutations {
    readonly request_trailers_mutations?: ReadonlyArray<envoy_config_common_mutation_rules_v3_HeaderMutation>;
  }
  /** status_on_error (Envoy 1.33+). */
  interface envoy_extensions_filters_http_ext_proc_v3_ExternalProcessor {
    readonly status_on_error?: { readonly code?: number };
  }
  /** remove_on_match (Envoy 1.33+). */
  interface envoy_config_common_mutation_rules_v3_HeaderMutation {
    readonly remove_on_match?: { readonly key_matcher?: envoy_type_matcher_v3_StringMatcher };
  }
  /** request_body_buffer_limit (Envoy 1.36+, the successor of per_request_buffer_limit_bytes). */
  interface envoy_config_route_v3_Route {
    readonly request_body_buffer_limit?: number | string;
  }
}
