// A body declared larger than the gateway takes is refused from the headers
// alone: waiting for 32 MiB and more to arrive only to refuse it would hold a
// connection and a buffer for nothing (a slow client makes that minutes).
// Envoy's own limit on the buffered body stays the bound for a chunked body,
// which declares no length.
import { type GatewayError, invalidRequest, requestTooLarge } from './errors.ts';
import { type HeaderList, headerValues } from './headers.ts';

const MALFORMED_LENGTH = invalidRequest(
  'malformed_content_length',
  'content-length must be one decimal number of bytes',
);

/**
 * Why the declared `content-length` may not be accepted, or undefined. Envoy
 * has already refused what HTTP forbids (a sign, hex, a list, two fields, more
 * than 64 bits); the processor still refuses whatever it cannot read as one
 * decimal number rather than guess. Leading zeros are allowed (HTTP allows
 * them) and any number of digits is compared exactly, without converting to a
 * number that could round.
 */
export function checkDeclaredLength(
  headers: HeaderList,
  maxRequestBodyBytes: number,
): GatewayError | undefined {
  const values = headerValues(headers, 'content-length');
  if (values.length === 0) return undefined;
  if (values.length > 1) return MALFORMED_LENGTH;
  const value = (values[0] ?? '').trim();
  if (!/^[0-9]+$/.test(value)) return MALFORMED_LENGTH;
  return exceeds(value.replace(/^0+/, ''), String(maxRequestBodyBytes))
    ? requestTooLarge(maxRequestBodyBytes)
    : undefined;
}

/** Whether the decimal `digits` (no leading zeros) name a number larger than `limit`'s. */
function exceeds(digits: string, limit: string): boolean {
  // Equal lengths compare as numbers when compared as strings.
  return digits.length !== limit.length ? digits.length > limit.length : digits > limit;
}
