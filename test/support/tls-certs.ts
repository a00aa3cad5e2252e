/**
 * Test-time TLS material made with the openssl command line: a fresh CA per call, and leaf certificates it
 * signs (server/client usable, CN and DNS SANs as given, IP SAN 127.0.0.1). Nothing secret is checked in;
 * every file lives in a mkdtemp folder the caller removes (`cleanup()`).
 *
 * Peer certificates name their node as `node-<id>` (CN and DNS SAN), the identity the node checks
 * against the handshake's node id.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
}

export interface TestCa {
  dir: string;
  /** Path of the CA certificate (PEM). */
  ca: string;
  /** Issues a leaf certificate signed by this CA with CN `commonName` and the given DNS SANs. */
  issue(commonName: string, dnsNames?: string[]): CertFiles;
  /** File contents, for SDK options that take buffers. */
  read(path: string): Buffer;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A new CA in a fresh temp folder. `name` keeps two CAs' files apart in logs. */
export function makeTestCa(name = 'tessera-test-ca'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-tls-'));
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
    ],
    dir,
  );
  let serial = 0;
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    issue(commonName: string, dnsNames: string[] = [commonName]): CertFiles {
      const base = `leaf-${++serial}`;
      const ext = join(dir, `${base}.ext`);
      const sans = [...dnsNames.map((d) => `DNS:${d}`), 'IP:127.0.0.1', 'DNS:localhost'].join(',');
      writeFileSync(ext, `subjectAltName=${sans}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n`);
      openssl(
        [
          'req',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-subj',
          `/CN=${commonName}`,
          '-keyout',
          `${base}.key`,
          '-out',
          `${base}.csr`,
        ],
        dir,
      );
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${base}.csr`,
          '-CA',
          'ca.pem',
          '-CAkey',
          'ca.key',
          '-CAcreateserial',
          '-days',
          '2',
          '-extfile',
          ext,
          '-out',
          `${base}.pem`,
        ],
        dir,
      );
      return { cert: join(dir, `${base}.pem`), key: join(dir, `${base}.key`) };
    },
    read: (path: string) => readFileSync(path),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
