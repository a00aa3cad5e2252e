/**
 * The client listener's credentials (src/server/credentials.ts): plaintext without --tls-*, TLS or mutual
 * TLS with them, and a CONFIG error naming the flag for every file that is missing, unreadable or not the
 * PEM it should be. Certificates are made at test time (test/support/tls-certs.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import type { HostPort, TlsFiles } from '../../../src/config';
import { clientListenerCredentials } from '../../../src/server/credentials';
import { makeTestCa, type CertFiles, type TestCa } from '../../support/tls-certs';

const PEER_LISTEN: HostPort = { host: '127.0.0.1', port: 1 };

let ca: TestCa;
let other: TestCa;
let server: CertFiles;
let otherServer: CertFiles;
let garbage: string;

beforeAll(() => {
  ca = makeTestCa('creds-ca');
  other = makeTestCa('creds-other-ca');
  server = ca.issue('node-1');
  otherServer = other.issue('node-1');
  garbage = join(ca.dir, 'garbage.pem');
  writeFileSync(garbage, 'not a pem file\n');
});
afterAll(() => {
  ca?.cleanup();
  other?.cleanup();
});

function build(tls: TlsFiles | null, peerListen: HostPort | null = PEER_LISTEN) {
  return clientListenerCredentials({ tls, peerListen });
}

function configError(fn: () => unknown): TesseraError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    expect((e as TesseraError).code).toBe('CONFIG');
    return e as TesseraError;
  }
  throw new Error('expected a CONFIG error');
}

describe('client listener credentials', () => {
  it('are plaintext without --tls-cert, TLS with it, mutual TLS with --tls-ca as well', () => {
    expect(build(null).mode).toBe('plaintext');
    expect(build(null, null).mode).toBe('plaintext');
    const tls = build({ cert: server.cert, key: server.key, ca: null });
    expect(tls.mode).toBe('tls');
    expect(tls.credentials._isSecure()).toBe(true);
    expect(build({ cert: server.cert, key: server.key, ca: ca.ca }).mode).toBe('mutual-tls');
  });

  it('refuse TLS on a client port that also serves peers (no --peer-listen)', () => {
    const e = configError(() => build({ cert: server.cert, key: server.key, ca: null }, null));
    expect(e.message).toMatch(/^--tls-cert requires --peer-listen/);
  });

  it('name the flag of a file that is missing', () => {
    const missing = join(ca.dir, 'nope.pem');
    expect(configError(() => build({ cert: missing, key: server.key, ca: null })).message).toMatch(
      /^--tls-cert: cannot read '.*nope\.pem'/,
    );
    expect(configError(() => build({ cert: server.cert, key: missing, ca: null })).message).toMatch(
      /^--tls-key: cannot read/,
    );
    expect(configError(() => build({ cert: server.cert, key: server.key, ca: missing })).message).toMatch(
      /^--tls-ca: cannot read/,
    );
    // A directory is unreadable as a file.
    expect(configError(() => build({ cert: ca.dir, key: server.key, ca: null })).message).toMatch(
      /^--tls-cert: cannot read/,
    );
  });

  it('name the flag of a file that is not the PEM it should be', () => {
    expect(configError(() => build({ cert: garbage, key: server.key, ca: null })).message).toMatch(
      /^--tls-cert: .* holds no PEM certificate/,
    );
    expect(configError(() => build({ cert: server.key, key: server.key, ca: null })).message).toMatch(/^--tls-cert: /);
    expect(configError(() => build({ cert: server.cert, key: garbage, ca: null })).message).toMatch(
      /^--tls-key: .* is not a PEM private key/,
    );
    expect(configError(() => build({ cert: server.cert, key: server.key, ca: garbage })).message).toMatch(
      /^--tls-ca: .* holds no PEM certificate/,
    );
    const broken = join(ca.dir, 'broken.pem');
    writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    expect(configError(() => build({ cert: server.cert, key: server.key, ca: broken })).message).toMatch(
      /^--tls-ca: certificate 1 in .* does not parse/,
    );
  });

  it('refuse a key that does not belong to the certificate', () => {
    const e = configError(() => build({ cert: server.cert, key: otherServer.key, ca: null }));
    expect(e.message).toMatch(/^--tls-key: .* is not the private key of --tls-cert/);
  });
});
