/**
 * The SDK's `tls` option (src/client/tls.ts) against an in-process fake cluster served over TLS: with the
 * CA every kind of call works (unary, Multi, Pipeline, Status); a plaintext client, a client trusting
 * another CA, and (with mutual TLS) a client without a certificate fail with UNAVAILABLE within their
 * deadline; bad PEM material is a CONFIG error at construction. Certificates are made at test time.
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { Client } from '../../../src/client';
import type { ClientOptions } from '../../../src/client';
import { makeTestCa, type CertFiles, type TestCa } from '../../support/tls-certs';
import { FakeCluster } from './fake-cluster';

let ca: TestCa;
let other: TestCa;
let serverCert: CertFiles;
let clientCert: CertFiles;
let strangerCert: CertFiles;
let cluster: FakeCluster | null = null;
const clients: Client[] = [];

beforeAll(() => {
  ca = makeTestCa('sdk-tls-ca');
  other = makeTestCa('sdk-tls-other-ca');
  serverCert = ca.issue('tessera-node', ['tessera-node', 'kv.example']);
  clientCert = ca.issue('app-client');
  strangerCert = other.issue('app-client');
});
afterAll(() => {
  ca?.cleanup();
  other?.cleanup();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  cluster?.stop();
  cluster = null;
});

function serverCredentials(mutual: boolean): grpc.ServerCredentials {
  const pair = { cert_chain: readFileSync(serverCert.cert), private_key: readFileSync(serverCert.key) };
  return grpc.ServerCredentials.createSsl(mutual ? readFileSync(ca.ca) : null, [pair], mutual);
}

function client(options: Partial<ClientOptions>): Client {
  const c = new Client({ endpoints: cluster!.endpoints(), deadlineMs: 1500, discover: false, ...options });
  clients.push(c);
  return c;
}

/** The error a call rejects with, and how long it took. */
async function failure(p: Promise<unknown>): Promise<{ error: TesseraError; elapsedMs: number }> {
  const start = Date.now();
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return { error: e as TesseraError, elapsedMs: Date.now() - start };
  }
  throw new Error('expected the call to fail');
}

describe('SDK over TLS', () => {
  it('uses TLS for every call when given the CA (strings or Buffers)', async () => {
    cluster = await FakeCluster.start(3, serverCredentials(false));
    const c = client({ tls: { ca: readFileSync(ca.ca, 'utf8') } });
    await c.put('k', 'v'); // coalesced single-key writes travel on KV.Pipeline
    expect((await c.get('k'))?.toString()).toBe('v');
    await Promise.all(['a', 'b', 'c'].map((k) => c.put(k, k)));
    expect((await c.batch({ ops: [{ op: 'get', key: 'a' }] })).results[0]?.toString()).toBe('a');
    const keys: string[] = [];
    for await (const page of c.scan('a', 'z')) keys.push(...page.items.map((kv) => kv.key.toString()));
    expect(keys).toEqual(['a', 'b', 'c', 'k']);
    const statuses = await c.clusterStatus({ timeoutMs: 1000 });
    expect(statuses.every((s) => s.ok)).toBe(true);
    const buffers = client({ tls: { ca: ca.read(ca.ca) } });
    expect((await buffers.get('k'))?.toString()).toBe('v');
  });

  it('checks the server name: the endpoint host, or serverName when given', async () => {
    cluster = await FakeCluster.start(1, serverCredentials(false));
    expect(await client({ tls: { ca: ca.read(ca.ca), serverName: 'kv.example' } }).get('x')).toBeNull();
    const wrongName = await failure(client({ tls: { ca: ca.read(ca.ca), serverName: 'elsewhere.example' } }).get('x'));
    expect(wrongName.error.code).toBe('UNAVAILABLE');
  });

  it('a plaintext client, or one trusting another CA, fails with UNAVAILABLE within its deadline', async () => {
    cluster = await FakeCluster.start(3, serverCredentials(false));
    const plain = await failure(client({}).put('k', 'v'));
    expect(plain.error.code).toBe('UNAVAILABLE');
    expect(plain.elapsedMs).toBeLessThan(1500 + 1000);
    const stranger = await failure(client({ tls: { ca: other.read(other.ca) } }).get('k'));
    expect(stranger.error.code).toBe('UNAVAILABLE');
    expect(stranger.error.message).toMatch(/certificate/i);
    expect(stranger.elapsedMs).toBeLessThan(1500 + 1000);
    expect(cluster.applies).toBe(0);
  });

  it('a TLS client to a plaintext node fails with UNAVAILABLE within its deadline', async () => {
    cluster = await FakeCluster.start(1);
    const r = await failure(client({ tls: { ca: ca.read(ca.ca) } }).put('k', 'v'));
    expect(r.error.code).toBe('UNAVAILABLE');
    expect(r.elapsedMs).toBeLessThan(1500 + 1000);
    expect(cluster.applies).toBe(0);
  });

  it('mutual TLS: no client certificate, or one another CA signed, is refused; one the CA signed works', async () => {
    cluster = await FakeCluster.start(1, serverCredentials(true));
    const anonymous = await failure(client({ tls: { ca: ca.read(ca.ca) } }).put('k', 'v'));
    expect(anonymous.error.code).toBe('UNAVAILABLE');
    const stranger = await failure(
      client({
        tls: { ca: ca.read(ca.ca), cert: other.read(strangerCert.cert), key: other.read(strangerCert.key) },
      }).put('k', 'v'),
    );
    expect(stranger.error.code).toBe('UNAVAILABLE');
    expect(cluster.applies).toBe(0);
    const c = client({ tls: { ca: ca.read(ca.ca), cert: ca.read(clientCert.cert), key: ca.read(clientCert.key) } });
    await c.put('k', 'v');
    expect((await c.get('k'))?.toString()).toBe('v');
  });
});

describe('SDK tls option validation', () => {
  const make =
    (tls: unknown): (() => Client) =>
    () =>
      new Client({ endpoints: ['127.0.0.1:1'], discover: false, tls: tls as ClientOptions['tls'] });
  const configError = (fn: () => unknown): string => {
    try {
      const c = fn() as Client;
      void c.close();
    } catch (e) {
      expect((e as TesseraError).code).toBe('CONFIG');
      return (e as Error).message;
    }
    throw new Error('expected a CONFIG error');
  };

  it('refuses material that is not PEM, or a certificate without its key, naming the option', () => {
    const caPem = readFileSync(ca.ca);
    expect(configError(make({}))).toMatch(/tls\.ca must be a PEM string or Buffer/);
    expect(configError(make({ ca: 'not a pem' }))).toMatch(/tls\.ca holds no PEM certificate/);
    expect(configError(make({ ca: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }))).toMatch(
      /tls\.ca does not parse/,
    );
    expect(configError(make({ ca: caPem, cert: readFileSync(clientCert.cert) }))).toMatch(
      /tls\.cert and tls\.key go together/,
    );
    expect(configError(make({ ca: caPem, cert: 'garbage', key: readFileSync(clientCert.key) }))).toMatch(
      /tls\.cert does not parse/,
    );
    expect(configError(make({ ca: caPem, cert: readFileSync(clientCert.cert), key: 'garbage' }))).toMatch(
      /tls\.key does not parse/,
    );
    expect(
      configError(make({ ca: caPem, cert: readFileSync(clientCert.cert), key: readFileSync(strangerCert.key) })),
    ).toMatch(/tls\.key is not the private key/);
    expect(configError(make({ ca: caPem, serverName: '' }))).toMatch(/tls\.serverName/);
    expect(configError(make('yes'))).toMatch(/tls must be an object/);
  });
});
