// Assertions that a reply is an Anthropic-shaped error: the status, a JSON body
// of exactly {"type":"error","error":{"type","message"}}, and a request-id.
import { expect } from 'vitest';
import type { RawResponse } from './raw-http.ts';

export interface ExpectedError {
  readonly status: number;
  readonly type: string;
  /** The exact message, or a pattern it must match; any string if absent. */
  readonly message?: string | RegExp | undefined;
}

export interface AnthropicError {
  readonly type: 'error';
  readonly error: { readonly type: string; readonly message: string };
}

function expectShape(body: unknown, expected: ExpectedError): AnthropicError {
  const message =
    expected.message === undefined
      ? expect.any(String)
      : typeof expected.message === 'string'
        ? expected.message
        : expect.stringMatching(expected.message);
  expect(body).toEqual({ type: 'error', error: { type: expected.type, message } });
  return body as AnthropicError;
}

/** A fetch Response; returns the parsed body and the request-id. */
export async function expectAnthropicError(
  response: Response,
  expected: ExpectedError,
): Promise<AnthropicError & { requestId: string }> {
  const text = await response.text();
  expect({ status: response.status, text }).toMatchObject({ status: expected.status });
  expect(response.headers.get('content-type')).toContain('application/json');
  const requestId = response.headers.get('request-id') ?? '';
  expect(requestId).not.toBe('');
  return { ...expectShape(JSON.parse(text), expected), requestId };
}

/** A response read off a raw socket. */
export function expectRawAnthropicError(
  response: RawResponse | undefined,
  expected: ExpectedError,
): AnthropicError & { requestId: string } {
  expect(response, 'no HTTP response').toBeDefined();
  const reply = response as RawResponse;
  expect({ status: reply.status, body: reply.body.toString('latin1') }).toMatchObject({
    status: expected.status,
  });
  expect(reply.header('content-type')).toContain('application/json');
  const requestIds = reply.headers.filter(([name]) => name === 'request-id');
  expect(requestIds).toHaveLength(1);
  const requestId = requestIds[0]?.[1] ?? '';
  expect(requestId).not.toBe('');
  return { ...expectShape(JSON.parse(reply.body.toString('utf8')), expected), requestId };
}
