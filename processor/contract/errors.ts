// Anthropic's error shape, as both halves of the gateway write it: the
// processor in its ImmediateResponses (processor/policy/errors.ts) and Envoy in
// its local replies (envoy/bootstrap/local-replies.ts). The SDKs pick their
// error class from the status and show the message, whichever half refused.

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

/** The JSON body of an error reply. */
export type AnthropicErrorBody = {
  readonly type: 'error';
  readonly error: { readonly type: AnthropicErrorType; readonly message: string };
};

export function anthropicErrorBody(type: AnthropicErrorType, message: string): AnthropicErrorBody {
  return { type: 'error', error: { type, message } };
}

/**
 * What a request Envoy cannot parse gets, from Envoy (its local reply for a
 * 400) and from the processor alike, so a refusal reads the same whichever of
 * them refused and over which protocol.
 */
export const MALFORMED_REQUEST_MESSAGE = 'malformed HTTP request';

const MIB = 1024 * 1024;

/**
 * A body over the gateway's limit: Envoy's 413 (the buffered body outgrew the
 * limit) and the processor's (the declared content-length does) say the same.
 */
export const requestTooLargeMessage = (maxRequestBodyBytes: number): string =>
  `request body is larger than the gateway's limit of ${Math.floor(maxRequestBodyBytes / MIB)} MiB`;
