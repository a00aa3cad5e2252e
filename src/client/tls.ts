/**
 * The SDK's channel security: gRPC channel credentials (and channel options) from ClientOptions.tls.
 * - No `tls`: plaintext, as before.
 * - `tls.ca`: the channel speaks TLS and trusts servers whose certificate that CA signed; the server's
 *   name is checked against the endpoint's host (or `serverName` when given).
 * - `tls.cert` and `tls.key` as well: the channel presents that client certificate (mutual TLS).
 *
 * Invariant: the material is parsed once, at Client construction, and a bad value is a CONFIG error that
 * names the option; every channel of the client (unary calls, Multi, Pipeline, Status) uses the one
 * credentials object made here.
 */
import * as grpc from '@grpc/grpc-js';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { TesseraError } from '../base';
import type { ClientTlsOptions } from './types';

export interface ChannelSecurity {
  credentials: grpc.ChannelCredentials;
  /** Options the credentials need on every channel (the TLS server name override). */
  channelOptions: grpc.ChannelOptions;
}

const CERT_BLOCK_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function parse<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new TesseraError(
      'CONFIG',
      `Client: ${what} does not parse: ${e instanceof Error ? e.message : String(e)}`,
      {},
      { cause: e },
    );
  }
}

function pem(value: unknown, what: string): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  throw new TesseraError(
    'CONFIG',
    `Client: tls.${what} must be a PEM string or Buffer, got ${value === null ? 'null' : typeof value}`,
  );
}

function pemOrNull(value: unknown, what: string): Buffer | null {
  return value === undefined ? null : pem(value, what);
}

export function channelSecurity(tls: ClientTlsOptions | undefined): ChannelSecurity {
  if (tls === undefined) return { credentials: grpc.credentials.createInsecure(), channelOptions: {} };
  if (tls === null || typeof tls !== 'object')
    throw new TesseraError('CONFIG', 'Client: tls must be an object ({ ca, cert?, key?, serverName? })');
  const ca = pem(tls.ca, 'ca');
  const cert = pemOrNull(tls.cert, 'cert');
  const key = pemOrNull(tls.key, 'key');
  if ((cert === null) !== (key === null))
    throw new TesseraError(
      'CONFIG',
      'Client: tls.cert and tls.key go together (a client certificate and its private key)',
    );
  const serverName = tls.serverName;
  if (serverName !== undefined && (typeof serverName !== 'string' || serverName.length === 0)) {
    throw new TesseraError('CONFIG', 'Client: tls.serverName must be a non-empty string');
  }
  const authorities = ca.toString('utf8').match(CERT_BLOCK_RE) ?? [];
  if (authorities.length === 0)
    throw new TesseraError('CONFIG', 'Client: tls.ca holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  for (const block of authorities) parse('tls.ca', () => new X509Certificate(block));
  if (cert !== null && key !== null) {
    const leaf = parse('tls.cert', () => new X509Certificate(cert));
    const privateKey = parse('tls.key', () => createPrivateKey(key));
    if (!leaf.checkPrivateKey(privateKey))
      throw new TesseraError('CONFIG', 'Client: tls.key is not the private key of tls.cert');
  }
  // What grpc-js does with the bytes on the first connection: any remaining problem is reported now.
  parse('tls', () => createSecureContext({ ca, ...(cert !== null && key !== null ? { cert, key } : {}) }));
  const credentials = grpc.credentials.createSsl(ca, key, cert);
  return {
    credentials,
    channelOptions: serverName !== undefined ? { 'grpc.ssl_target_name_override': serverName } : {},
  };
}

/** Checks `tls` as Client construction would (CONFIG naming the option), for tools that read it from files. */
export function checkTlsOptions(tls: ClientTlsOptions): void {
  channelSecurity(tls);
}
