// What Envoy's gRPC access logger (envoy/bootstrap/listener.ts) and the processor's
// access-log service (processor/accesslog/) agree on: how entries are batched, and what each carries
// beyond Envoy's standard fields.
import { RESPONSE_REQUEST_ID_HEADER } from './names.ts';

/** The access logger's name, sent once per stream in the first message. */
export const ACCESS_LOG_NAME = 'anthropic_gateway';

/**
 * Envoy sends what it has gathered at least this often, and at once when a
 * batch reaches ACCESS_LOG_BUFFER_BYTES: an access line, and a request's
 * token charge, comes at most this long after its response ended (plus the
 * processor's own log batching). Each Envoy worker has its own batch.
 */
export const ACCESS_LOG_FLUSH_INTERVAL_MS = 100;

/** A batch this large is sent at once (Envoy's default); one entry is about 400 to 600 bytes. */
export const ACCESS_LOG_BUFFER_BYTES = 16 * 1024;

/**
 * Response headers each entry carries, and no other: content-type says
 * whether the answer was streamed; request-id is the upstream's id of it
 * (which Anthropic support asks for).
 * No request header is logged (Envoy's entry has the method, path and user
 * agent among its own fields).
 */
export const LOGGED_RESPONSE_HEADERS = ['content-type', RESPONSE_REQUEST_ID_HEADER] as const;
