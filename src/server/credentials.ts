/**
 * The client listener's gRPC credentials, built from config.tls (--tls-cert, --tls-key, --tls-ca).
 * - No TLS configured: plaintext, as before.
 * - --tls-cert and --tls-key: the listener serves TLS only.
 * - --tls-ca as well: mutual TLS; a client must present a certificate that CA signed, or the handshake fails.
 *
 * Invariants: every file is read and parsed here, before the node binds or writes anything, so a missing
 * or unreadable file, a file that is not PEM, or a key that does not belong to the certificate is a CONFIG
 * error (exit 2) whose message starts with the flag that named the file. TLS on the client port needs
 * --peer-listen: the Raft peer service would otherwise share the TLS-only port, where plaintext peers
 * cannot reach it (peers authenticate with --peer-tls-*, on their own listener).
 */
import * as grpc from '@grpc/grpc-js';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { TesseraError } from '../base';
import type { NodeConfig } from '../config';

export type ClientTlsMode = 'plaintext' | 'tls' | 'mutual-tls';

export interface ClientListenerCredentials {
  credentials: grpc.ServerCredentials;
  mode: ClientTlsMode;
}

/** Reads a file whole; injectable so tests can fail reads without touching the disk. */
export type ReadFile = (path: string) => Buffer;

const CERT_BLOCK_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function configError(message: string, cause?: unknown): TesseraError {
  return new TesseraError('CONFIG', message, {}, cause === undefined ? undefined : { cause });
}

function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function readPem(flag: string, path: string, readFile: ReadFile): Buffer {
  try {
    return readFile(path);
  } catch (e) {
    throw configError(`${flag}: cannot read '${path}': ${reasonOf(e)}`, e);
  }
}

/** Every certificate of a PEM bundle, parsed; at least one. */
function parseCertificates(flag: string, path: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('utf8').match(CERT_BLOCK_RE) ?? [];
  if (blocks.length === 0)
    throw configError(`${flag}: '${path}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (e) {
      throw configError(`${flag}: certificate ${i + 1} in '${path}' does not parse: ${reasonOf(e)}`, e);
    }
  });
}

/** The credentials of the client listener (KV, Admin; see the header for the modes). */
export function clientListenerCredentials(
  config: Pick<NodeConfig, 'tls' | 'peerListen'>,
  readFile: ReadFile = readFileSync,
): ClientListenerCredentials {
  const tls = config.tls;
  if (tls === null) return { credentials: grpc.ServerCredentials.createInsecure(), mode: 'plaintext' };
  if (config.peerListen === null) {
    throw configError(
      '--tls-cert requires --peer-listen HOST:PORT: with TLS on the client port, peers need their own listener ' +
        '(name the peer-listen addresses in --peers; add --peer-tls-cert/--peer-tls-key/--peer-tls-ca to secure it)',
    );
  }
  const cert = readPem('--tls-cert', tls.cert, readFile);
  const key = readPem('--tls-key', tls.key, readFile);
  const ca = tls.ca === null ? null : readPem('--tls-ca', tls.ca, readFile);
  const leaf = parseCertificates('--tls-cert', tls.cert, cert)[0]!;
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    throw configError(`--tls-key: '${tls.key}' is not a PEM private key: ${reasonOf(e)}`, e);
  }
  if (!leaf.checkPrivateKey(privateKey))
    throw configError(`--tls-key: '${tls.key}' is not the private key of --tls-cert '${tls.cert}'`);
  if (ca !== null) parseCertificates('--tls-ca', tls.ca!, ca);
  try {
    // What the TLS server will do with these bytes: any remaining problem is reported now, not at bind.
    createSecureContext({ cert, key, ...(ca !== null ? { ca } : {}) });
  } catch (e) {
    throw configError(`--tls-cert/--tls-key: cannot use '${tls.cert}' with '${tls.key}': ${reasonOf(e)}`, e);
  }
  // With a CA: request a client certificate and refuse the handshake without one it signed.
  const credentials = grpc.ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], ca !== null);
  return { credentials, mode: ca !== null ? 'mutual-tls' : 'tls' };
}
