import { describe, expect, it } from 'vitest';
import {
  type AnthropicErrorType,
  type GatewayError,
  INTERNAL_ERROR,
  INVALID_CREDENTIAL,
  invalidRequest,
  isRetryable,
  methodNotAllowed,
  modelNotPermitted,
  notFound,
  renderErrorBody,
} from '../../processor/policy/errors.ts';

const error = (type: AnthropicErrorType, message: string, status = 400): GatewayError => ({
  status,
  type,
  message,
  reason: 'test',
});

describe('renderErrorBody', () => {
  it('renders exactly Anthropic’s error shape, and nothing else', () => {
    expect(renderErrorBody(error('invalid_request_error', 'unknown model')).toString('utf8')).toBe(
      '{"type":"error","error":{"type":"invalid_request_error","message":"unknown model"}}',
    );
  });

  it('never leaks the reason, status or extra headers into the body', () => {
    const body = renderErrorBody(methodNotAllowed('GET', 'POST')).toString('utf8');
    expect(Object.keys(JSON.parse(body))).toEqual(['type', 'error']);
    expect(Object.keys(JSON.parse(body).error)).toEqual(['type', 'message']);
    expect(body).not.toContain('method_not_allowed');
    expect(body).not.toContain('405');
  });

  it('JSON-escapes messages', () => {
    const message = 'a "quoted" \\ back\nline\ttab \u0000 \u001f </script> é 😀 \u2028';
    const body = renderErrorBody(error('api_error', message, 500));
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    expect(parsed).toEqual({ type: 'error', error: { type: 'api_error', message } });
    expect(body.toString('utf8')).toContain('\\"quoted\\" \\\\ back\\nline\\ttab \\u0000 \\u001f');
  });

  it('is valid UTF-8', () => {
    const body = renderErrorBody(error('not_found_error', 'clåude 😀', 404));
    expect(body.equals(Buffer.from(body.toString('utf8'), 'utf8'))).toBe(true);
  });
});

describe('gateway errors', () => {
  it('map each status to Anthropic’s error type', () => {
    expect(invalidRequest('r', 'm')).toEqual({
      status: 400,
      type: 'invalid_request_error',
      message: 'm',
      reason: 'r',
    });
    expect(INVALID_CREDENTIAL).toMatchObject({ status: 401, type: 'authentication_error' });
    expect(modelNotPermitted('x')).toMatchObject({ status: 403, type: 'permission_error' });
    expect(notFound('gone')).toMatchObject({ status: 404, type: 'not_found_error', message: 'gone' });
    expect(methodNotAllowed('GET', 'POST')).toMatchObject({
      status: 405,
      type: 'invalid_request_error',
      headers: { allow: 'POST' },
    });
    expect(INTERNAL_ERROR).toMatchObject({ status: 500, type: 'api_error' });
  });

  it('quote a hostile model name safely in the 403 message', () => {
    const model = 'x"}\n,"type":"hack';
    const message = modelNotPermitted(model).message;
    expect(message).toBe(`this credential may not use model ${JSON.stringify(model)}`);
    const parsed: unknown = JSON.parse(renderErrorBody(modelNotPermitted(model)).toString('utf8'));
    expect(parsed).toEqual({ type: 'error', error: { type: 'permission_error', message } });
  });

  it('say nothing about why a credential failed', () => {
    expect(INVALID_CREDENTIAL.message).toBe('invalid or missing credential');
  });
});

describe('isRetryable', () => {
  it('says a refusal (4xx) cannot change on a retry, and a 5xx may', () => {
    expect(isRetryable(INVALID_CREDENTIAL)).toBe(false);
    expect(isRetryable(invalidRequest('x', 'y'))).toBe(false);
    expect(isRetryable(modelNotPermitted('m'))).toBe(false);
    expect(isRetryable(notFound('z'))).toBe(false);
    expect(isRetryable(methodNotAllowed('GET', 'POST'))).toBe(false);
    expect(isRetryable(INTERNAL_ERROR)).toBe(true);
  });

  it("keeps the SDKs' own rule for rate limits, timeouts and conflicts", () => {
    for (const status of [408, 409, 429, 503, 529]) {
      expect(isRetryable({ status, type: 'api_error', message: 'm', reason: 'r' }), String(status)).toBe(
        true,
      );
    }
  });

  it('lets an error say otherwise', () => {
    expect(isRetryable({ ...INTERNAL_ERROR, retryable: false })).toBe(false);
    expect(isRetryable({ ...INVALID_CREDENTIAL, retryable: true })).toBe(true);
  });
});
