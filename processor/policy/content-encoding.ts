// Whether the request body arrives compressed. A compressed body cannot be
// checked (its `model` is not readable without decompressing it), so it is
// refused rather than forwarded. Every content-encoding header counts, and
// every coding listed in each: `identity, gzip` or a second header is as
// compressed as `gzip`.
import { type HeaderList, headerValues } from './headers.ts';

/** The client's content-encoding value(s), if any coding other than identity is named; else undefined. */
export function compressedEncoding(headers: HeaderList): string | undefined {
  const values = headerValues(headers, 'content-encoding');
  if (values.length === 0) return undefined;
  for (const value of values) {
    for (const coding of value.split(',')) {
      const name = coding.trim().toLowerCase();
      if (name !== '' && name !== 'identity') return values.join(', ');
    }
  }
  return undefined;
}
