// The processor's gRPC address, `host:port` or `unix:/path`, parsed once: by
// the configuration schema (processor.address), and by the few entry points
// that are handed one as text (the container's healthcheck, a launcher that
// learns where a processor listens). Everything else takes the parsed value:
// the gRPC server binds it, Envoy's bootstrap points its clusters at it, the
// health client dials it.
import { isIP } from 'node:net';
import { z } from 'zod';

export type Address =
  /** `host` without brackets (an IPv6 address as `::1`); port 0: any free one, when listening. */
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

const UNIX = 'unix:';

/** The address `text` names, or why it names none. */
export function tryParseAddress(text: string): Address | string {
  if (text.startsWith(UNIX)) {
    const path = text.slice(UNIX.length);
    return path === '' ? 'a unix: address needs a path (unix:/path)' : { kind: 'unix', path };
  }
  const colon = text.lastIndexOf(':');
  if (colon === -1) return 'must be host:port or unix:/path';
  const portText = text.slice(colon + 1);
  let host = text.slice(0, colon);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65_535)
    return 'the port must be a number from 0 to 65535';
  if (host.startsWith('[') || host.endsWith(']')) {
    if (!(host.startsWith('[') && host.endsWith(']')) || isIP(host.slice(1, -1)) !== 6) {
      return 'an IPv6 host goes in brackets: [::1]:port';
    }
    host = host.slice(1, -1);
  } else if (host.includes(':')) {
    return 'an IPv6 host goes in brackets: [::1]:port';
  }
  if (host === '') return 'must be host:port or unix:/path (the host is missing)';
  return { kind: 'tcp', host, port: Number(portText) };
}

/** The address `text` names; throws when it names none. */
export function parseAddress(text: string): Address {
  const parsed = tryParseAddress(text);
  if (typeof parsed === 'string')
    throw new Error(`not a host:port or unix:/path address: ${text} (${parsed})`);
  return parsed;
}

/** A configuration field holding an address: the text in the file, the parsed value in the settings. */
export const addressSchema = z.string().transform((text, context): Address => {
  const parsed = tryParseAddress(text);
  if (typeof parsed !== 'string') return parsed;
  context.issues.push({ code: 'custom', message: parsed, input: text });
  return z.NEVER;
});

/** The text form: `host:port` (`[v6]:port`) or `unix:/path`, as gRPC clients and Envoy's logs write it. */
export function formatAddress(address: Address): string {
  if (address.kind === 'unix') return `${UNIX}${address.path}`;
  return `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

/** The same address on the port it was bound to (a configured 0 is an ephemeral port). */
export function withPort(address: Address, port: number | undefined): Address {
  return address.kind === 'unix' || port === undefined ? address : { ...address, port };
}

/** Where to dial a listen address: a wildcard host means this machine. */
export function dialAddress(listen: Address): Address {
  if (listen.kind === 'unix') return listen;
  if (listen.host === '0.0.0.0') return { ...listen, host: '127.0.0.1' };
  if (listen.host === '::') return { ...listen, host: '::1' };
  return listen;
}

/** A host name (the compose service `processor`, a Kubernetes Service) rather than an IP or a socket. */
export function isHostName(address: Address): boolean {
  return address.kind === 'tcp' && isIP(address.host) === 0;
}
