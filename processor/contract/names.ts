// The names Envoy's configuration (envoy/bootstrap/) and the processor must
// spell alike: a name defined here is defined nowhere else. Envoy renders its
// bootstrap from these; the processor writes and reads what they name. Pure
// values: importing this loads nothing of the processor.

/**
 * The dynamic metadata namespace of a request's facts and of the processor's
 * approval: the one namespace ext_proc lets the processor write
 * (metadata_options.receiving_namespaces), and the one the access-log entry
 * carries back (processor/extproc/metadata.ts).
 */
export const METADATA_NAMESPACE = 'anthropic_gateway';

/**
 * The key under METADATA_NAMESPACE whose value is `true` once the processor
 * allowed the whole request: Envoy's approval check (an RBAC filter on the
 * upstream cluster) lets a request on only with it (processor/extproc/approval.ts).
 */
export const APPROVAL_KEY = 'approved';

/**
 * Every ImmediateResponse of the processor has details starting with this
 * (processor/extproc/responses.ts): Envoy's local replies leave such a reply
 * alone, it is already Anthropic-shaped (envoy/bootstrap/local-replies.ts).
 */
export const GATEWAY_DETAILS_PREFIX = 'anthropic_gateway_';

/**
 * Envoy's id of a request. The processor reads it and removes it (it must not
 * go upstream); Envoy keeps a copy in filter state first, for the request-id
 * header of its own error replies.
 */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Anthropic's response header with the id of a request: the upstream's answers
 * carry it (the access log keeps it), and the gateway's own error replies, the
 * processor's and Envoy's, carry the gateway's id in it.
 */
export const RESPONSE_REQUEST_ID_HEADER = 'request-id';

/**
 * The health service name Envoy's health check asks about (the processor
 * clusters) and the processor answers for (processor/health/service.ts).
 */
export const EXT_PROC_SERVICE = 'envoy.service.ext_proc.v3.ExternalProcessor';
