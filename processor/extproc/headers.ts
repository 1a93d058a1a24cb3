// Envoy's HeaderMap proto to the policy's plain header list.
import type { HeaderMap__Output } from '../../protos/generated/envoy/config/core/v3/HeaderMap.ts';
import type { HeaderList } from '../policy/headers.ts';

export function toHeaderList(map: HeaderMap__Output | null | undefined): HeaderList {
  const list: Array<readonly [string, string]> = [];
  for (const header of map?.headers ?? []) {
    // Envoy sends values as raw bytes (raw_value); older versions used value.
    // latin1 maps each byte to one code unit, so nothing is lost or replaced.
    const value =
      header.raw_value !== undefined && header.raw_value.length > 0
        ? header.raw_value.toString('latin1')
        : (header.value ?? '');
    list.push([(header.key ?? '').toLowerCase(), value]);
  }
  return list;
}
