// The processor's errors, as plain values. Every error the gateway produces is
// one of these, rendered by one function in Anthropic's shape
// (processor/contract/errors.ts, which Envoy's local replies use too), so the
// SDKs pick the right error class from the status and show the message.
import {
  type AnthropicErrorType,
  anthropicErrorBody,
  MALFORMED_REQUEST_MESSAGE,
  requestTooLargeMessage,
} from '../contract/errors.ts';

export { type AnthropicErrorType, MALFORMED_REQUEST_MESSAGE };

export interface GatewayError {
  readonly status: number;
  readonly type: AnthropicErrorType;
  readonly message: string;
  /** A short, stable code for logs and metrics (never shown to clients). */
  readonly reason: string;
  /** Extra response headers, e.g. `allow` on a 405. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Whether repeating the request can help; by default as the SDKs judge a status (see isRetryable). */
  readonly retryable?: boolean;
}

/**
 * Sent to clients as `x-should-retry: false` when false: the Anthropic SDKs
 * and Claude Code obey it before their own rules (Anthropic's API sends it
 * too). A refusal decided by the request or the configuration cannot change on
 * a retry: without the header, Claude Code retries a 401 for minutes before it
 * shows the message. The default is the SDKs' own rule (408, 409, 429 and 5xx
 * are worth retrying), so a rate limit still is.
 */
export function isRetryable(error: GatewayError): boolean {
  const { status } = error;
  return error.retryable ?? (status === 408 || status === 409 || status === 429 || status >= 500);
}

export function renderErrorBody(error: GatewayError): Buffer {
  return Buffer.from(JSON.stringify(anthropicErrorBody(error.type, error.message)));
}

export const invalidRequest = (reason: string, message: string): GatewayError => ({
  status: 400,
  type: 'invalid_request_error',
  message,
  reason,
});

export const INVALID_CREDENTIAL: GatewayError = {
  status: 401,
  type: 'authentication_error',
  message: 'invalid or missing credential',
  reason: 'invalid_credential',
};

export const modelNotPermitted = (model: string): GatewayError => ({
  status: 403,
  type: 'permission_error',
  message: `this credential may not use model ${JSON.stringify(model)}`,
  reason: 'model_not_permitted',
});

export const notFound = (message: string): GatewayError => ({
  status: 404,
  type: 'not_found_error',
  message,
  reason: 'not_found',
});

export const methodNotAllowed = (method: string, allowed: string): GatewayError => ({
  status: 405,
  type: 'invalid_request_error',
  message: `method ${method} is not allowed here; use ${allowed}`,
  reason: 'method_not_allowed',
  headers: { allow: allowed },
});

export const INTERNAL_ERROR: GatewayError = {
  status: 500,
  type: 'api_error',
  message: 'the gateway failed to process the request',
  reason: 'internal_error',
};

/** A body over the gateway's limit (Envoy's 413 says the same: requestTooLargeMessage). */
export const requestTooLarge = (maxRequestBodyBytes: number): GatewayError => ({
  status: 413,
  type: 'request_too_large',
  message: requestTooLargeMessage(maxRequestBodyBytes),
  reason: 'request_too_large',
});
