/**
 * The CLI's TLS flags (cmd/cli/args.ts) against an in-process fake cluster served over TLS: --tls-ca (or
 * TESSERA_TLS_CA) makes every command connect with TLS, --tls-cert/--tls-key add a client certificate;
 * a missing or bad file is a usage error (exit 2) naming its flag; --help lists the flags.
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../cmd/cli/main';
import { makeTestCa, type CertFiles, type TestCa } from '../../support/tls-certs';
import { FakeCluster } from './fake-cluster';

let ca: TestCa;
let serverCert: CertFiles;
let clientCert: CertFiles;
let cluster: FakeCluster | null = null;

beforeAll(() => {
  ca = makeTestCa('cli-tls-ca');
  serverCert = ca.issue('tessera-node');
  clientCert = ca.issue('cli-user');
});
afterAll(() => ca?.cleanup());
afterEach(() => {
  cluster?.stop();
  cluster = null;
  delete process.env.TESSERA_TLS_CA;
});

function serverCredentials(mutual: boolean): grpc.ServerCredentials {
  const pair = { cert_chain: readFileSync(serverCert.cert), private_key: readFileSync(serverCert.key) };
  return grpc.ServerCredentials.createSsl(mutual ? readFileSync(ca.ca) : null, [pair], mutual);
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('tessera CLI over TLS', () => {
  it('--tls-ca makes put, get, scan and status use TLS; without it the cluster is unreachable (exit 3)', async () => {
    cluster = await FakeCluster.start(3, serverCredentials(false));
    const ep = ['--endpoints', cluster.endpoints().join(','), '--tls-ca', ca.ca];
    expect(await cli(['put', 'hello', 'world', ...ep])).toEqual({ code: 0, out: 'OK', err: '' });
    expect(await cli(['get', 'hello', ...ep])).toEqual({ code: 0, out: 'world', err: '' });
    expect((await cli(['scan', ...ep])).out).toBe('hello\tworld');
    expect((await cli(['status', '--json', ...ep])).code).toBe(0);
    const plain = await cli(['get', 'hello', '--endpoints', cluster.endpoints().join(','), '--deadline-ms', '1000']);
    expect(plain.code).toBe(3);
  });

  it('TESSERA_TLS_CA works like --tls-ca', async () => {
    cluster = await FakeCluster.start(1, serverCredentials(false));
    process.env.TESSERA_TLS_CA = ca.ca;
    expect(await cli(['put', 'k', 'v', '--endpoints', cluster.endpoints().join(',')])).toEqual({
      code: 0,
      out: 'OK',
      err: '',
    });
  });

  it('--tls-cert and --tls-key present a client certificate to nodes that require one', async () => {
    cluster = await FakeCluster.start(1, serverCredentials(true));
    const ep = ['--endpoints', cluster.endpoints().join(','), '--tls-ca', ca.ca];
    expect((await cli(['put', 'k', 'v', '--deadline-ms', '1000', ...ep])).code).toBe(3);
    expect(cluster.applies).toBe(0);
    expect(await cli(['put', 'k', 'v', ...ep, '--tls-cert', clientCert.cert, '--tls-key', clientCert.key])).toEqual({
      code: 0,
      out: 'OK',
      err: '',
    });
  });

  it('a missing or bad file, or a certificate without its key, is a usage error naming the flag', async () => {
    const ep = ['--endpoints', '127.0.0.1:1'];
    const missing = await cli(['get', 'k', ...ep, '--tls-ca', join(ca.dir, 'nope.pem')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--tls-ca: cannot read '.*nope\.pem'/);
    const garbage = join(ca.dir, 'garbage.pem');
    writeFileSync(garbage, 'garbage\n');
    const bad = await cli(['get', 'k', ...ep, '--tls-ca', garbage]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--tls-ca '.*garbage\.pem' holds no PEM certificate/);
    const badKey = await cli([
      'get',
      'k',
      ...ep,
      '--tls-ca',
      ca.ca,
      '--tls-cert',
      clientCert.cert,
      '--tls-key',
      garbage,
    ]);
    expect(badKey.code).toBe(2);
    expect(badKey.err).toMatch(/--tls-key '.*garbage\.pem' does not parse/);
    const alone = await cli(['get', 'k', ...ep, '--tls-ca', ca.ca, '--tls-cert', clientCert.cert]);
    expect(alone.code).toBe(2);
    expect(alone.err).toMatch(/--tls-cert and --tls-key go together/);
    const noCa = await cli(['get', 'k', ...ep, '--tls-cert', clientCert.cert, '--tls-key', clientCert.key]);
    expect(noCa.code).toBe(2);
    expect(noCa.err).toMatch(/--tls-ca FILE is required with --tls-cert/);
  });

  it('--help lists the TLS flags', async () => {
    const help = await cli(['--help']);
    for (const flag of [
      '--tls-ca FILE',
      '--tls-cert FILE',
      '--tls-key FILE',
      '--tls-server-name NAME',
      'TESSERA_TLS_CA',
    ])
      expect(help.out).toContain(flag);
  });
});
