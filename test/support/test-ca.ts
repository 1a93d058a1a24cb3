// A throw-away certificate authority for tests that need a real TLS upstream:
// a CA and a leaf certificate for `localhost` (and 127.0.0.1), made with the
// openssl CLI in a fresh temporary directory, never checked in. A second,
// unrelated CA (`otherCaFile`) is there to show that a wrong trust anchor fails.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  /** PEM file of the CA that signed `cert` (give it to Envoy as the upstream CA). */
  readonly caFile: string;
  /** PEM file of a CA that signed nothing here. */
  readonly otherCaFile: string;
  /** The leaf certificate (PEM), for `localhost`. */
  readonly cert: string;
  /** Its private key (PEM). */
  readonly key: string;
  /** The leaf certificate's and its key's files (for Envoy's listener, say). */
  readonly certFile: string;
  readonly keyFile: string;
  remove(): void;
}

const OPENSSL = process.env.OPENSSL_BIN ?? '/usr/bin/openssl';

function openssl(dir: string, args: readonly string[]): void {
  execFileSync(OPENSSL, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${name} (gateway test CA)`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

export function createTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-test-ca-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'leaf.key',
    '-out',
    'leaf.csr',
    '-subj',
    '/CN=localhost',
  ]);
  writeFileSync(
    join(dir, 'leaf.ext'),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '',
    ].join('\n'),
  );
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'leaf.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'leaf.pem',
    '-days',
    '2',
    '-extfile',
    'leaf.ext',
  ]);
  return {
    caFile: join(dir, 'ca.pem'),
    otherCaFile: join(dir, 'other-ca.pem'),
    cert: readFileSync(join(dir, 'leaf.pem'), 'utf8'),
    key: readFileSync(join(dir, 'leaf.key'), 'utf8'),
    certFile: join(dir, 'leaf.pem'),
    keyFile: join(dir, 'leaf.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
