/**
 * connection-gate.ts with a real grpc-js server on 127.0.0.1 (port 0) and real clients: past the cap a new
 * connection is refused and the open ones keep working; a silent socket is closed at the handshake
 * timeout; with peers on the same port, a connection past the cap whose first call is a Raft call gets in
 * (as a peer, out of the client count) while one whose first call is anything else is closed; mutual TLS
 * connections go through the gate too.
 */
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { loadNodeConfig } from '../../../src/config';
import { ConnectionGate } from '../../../src/server/connection-gate';
import { makeTestCa } from '../../support/tls-certs';
import { rawMethod } from './raw-methods';

const service: grpc.ServiceDefinition = {
  Get: rawMethod('/tessera.v1.KV/Get'),
  Ping: rawMethod('/tessera.v1.Raft/Ping'),
};
const echo = (_c: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): void =>
  cb(null, Buffer.from('ok'));

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

async function start(
  options: Partial<ConstructorParameters<typeof ConnectionGate>[0]>,
  credentials = grpc.ServerCredentials.createInsecure(),
) {
  const registry = new Registry();
  const gate = new ConnectionGate({ connectionsMax: 3, peersShare: false, registry, ...options });
  const server = new grpc.Server({ interceptors: [gate.interceptor()] });
  server.addService(service, { Get: echo, Ping: echo });
  const port = await gate.listen(server, credentials, '127.0.0.1', 0);
  cleanups.push(() => {
    server.forceShutdown();
    gate.close();
  });
  return { gate, port, registry };
}

/** A client on its own connection (a local subchannel pool: no sharing between clients). */
function client(port: number, credentials = grpc.credentials.createInsecure(), host = '127.0.0.1') {
  const c = new grpc.Client(`${host}:${port}`, credentials, { 'grpc.use_local_subchannel_pool': 1 });
  cleanups.push(() => c.close());
  return c;
}

function call(c: grpc.Client, path: string): Promise<string> {
  return new Promise((resolve) =>
    c.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(1),
      { deadline: Date.now() + 3000 },
      (err, res) => resolve(err ? `error ${grpc.status[err.code]}` : String(res)),
    ),
  );
}

/** A raw TCP socket: resolves 'closed' when the server closes it (how long after the connect), or 'open'. */
function rawSocket(port: number, waitMs: number, send?: Buffer): Promise<{ end: 'closed' | 'open'; afterMs: number }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  cleanups.push(() => socket.destroy());
  const t0 = Date.now();
  socket.on('error', () => undefined);
  if (send) socket.write(send);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ end: 'open', afterMs: waitMs }), waitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ end: 'closed', afterMs: Date.now() - t0 });
    });
  });
}

const metric = async (r: Registry, name: string, label: string): Promise<number> =>
  (await r.getSingleMetric(name)!.get()).values.find((v) => Object.values(v.labels).includes(label))?.value ?? 0;

describe('--connections-max', () => {
  const base = ['--id', '1', '--listen', '127.0.0.1:7001', '--peers', '1=127.0.0.1:7001', '--data-dir', '/tmp/x'];
  const load = (argv: string[], env: Record<string, string> = {}) =>
    loadNodeConfig({ argv: [...base, ...argv], env, readFile: () => '' });

  it('defaults to 1024, takes the flag or TESSERA_CONNECTIONS_MAX, refuses values out of 8..1000000', () => {
    expect(load([]).connectionsMax).toBe(1024);
    expect(load(['--connections-max', '64']).connectionsMax).toBe(64);
    expect(load([], { TESSERA_CONNECTIONS_MAX: '100' }).connectionsMax).toBe(100);
    expect(() => load(['--connections-max', '7'])).toThrow(/connections-max/);
    expect(() => load(['--connections-max', '1000001'])).toThrow(/connections-max/);
    expect(() => load(['--connections-max', 'many'])).toThrow(/connections-max/);
  });
});

describe('connection gate', () => {
  it('refuses connections past the cap at once; the open ones keep working, and a freed slot is reused', async () => {
    const { gate, port, registry } = await start({});
    const open = [client(port), client(port), client(port)];
    for (const c of open) expect(await call(c, '/tessera.v1.KV/Get')).toBe('ok');
    expect(gate.count('client')).toBe(3);
    const extra = await rawSocket(port, 2000);
    expect(extra.end).toBe('closed');
    expect(extra.afterMs).toBeLessThan(1000);
    expect(await call(client(port), '/tessera.v1.KV/Get')).toMatch(/^error/);
    for (const c of open) expect(await call(c, '/tessera.v1.KV/Get')).toBe('ok');
    expect(await metric(registry, 'tessera_grpc_connections_refused_total', 'cap')).toBeGreaterThanOrEqual(2);
    open[0]!.close();
    for (let i = 0; i < 50 && gate.count('client') > 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await call(client(port), '/tessera.v1.KV/Get')).toBe('ok');
  }, 20_000);

  it('closes a connection that sends no HTTP/2 preface within the handshake timeout', async () => {
    const { gate, port, registry } = await start({ handshakeTimeoutMs: 300 });
    const silent = await rawSocket(port, 3000);
    expect(silent.end).toBe('closed');
    expect(silent.afterMs).toBeGreaterThanOrEqual(250);
    expect(gate.count('client')).toBe(0);
    expect(await metric(registry, 'tessera_grpc_connections_refused_total', 'handshake')).toBe(1);
  }, 10_000);

  it('with peers on this port: past the cap a Raft call gets in as a peer, any other call or none is closed', async () => {
    const { gate, port, registry } = await start({ peersShare: true, probationMs: 500 });
    const clients = [client(port), client(port), client(port)];
    for (const c of clients) expect(await call(c, '/tessera.v1.KV/Get')).toBe('ok');
    const peer = client(port);
    expect(await call(peer, '/tessera.v1.Raft/Ping')).toBe('ok');
    expect(gate.count('peer')).toBe(1);
    expect(gate.count('client')).toBe(3);
    expect(await call(peer, '/tessera.v1.KV/Get')).toBe('ok'); // a peer's connection is not on probation
    expect(await call(client(port), '/tessera.v1.KV/Get')).toMatch(/^error/);
    const silent = await rawSocket(port, 3000, Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    expect(silent.end).toBe('closed');
    expect(silent.afterMs).toBeGreaterThanOrEqual(400);
    expect(await metric(registry, 'tessera_grpc_connections_refused_total', 'probation')).toBe(2);
    expect(gate.count('probation')).toBe(0);
    for (const c of clients) expect(await call(c, '/tessera.v1.KV/Get')).toBe('ok');
  }, 20_000);

  it('serves mutual TLS through the gate and counts those connections', async () => {
    const ca = makeTestCa();
    cleanups.push(() => ca.cleanup());
    const server = ca.issue('localhost', ['localhost']);
    const user = ca.issue('client');
    const creds = grpc.ServerCredentials.createSsl(
      ca.read(ca.ca),
      [{ cert_chain: ca.read(server.cert), private_key: ca.read(server.key) }],
      true,
    );
    const { gate, port } = await start({ connectionsMax: 1, handshakeTimeoutMs: 300 }, creds);
    const tls = grpc.credentials.createSsl(ca.read(ca.ca), ca.read(user.key), ca.read(user.cert));
    const first = client(port, tls, 'localhost');
    expect(await call(first, '/tessera.v1.KV/Get')).toBe('ok');
    expect(gate.count('client')).toBe(1);
    await new Promise((r) => setTimeout(r, 600)); // past the handshake timeout: a live TLS connection stays
    expect(await call(first, '/tessera.v1.KV/Get')).toBe('ok');
    expect(gate.count('client')).toBe(1);
    expect(await call(client(port, tls, 'localhost'), '/tessera.v1.KV/Get')).toMatch(/^error/);
    first.close();
    for (let i = 0; i < 50 && gate.count('client') > 0; i++) await new Promise((r) => setTimeout(r, 20));
    const noCert = grpc.credentials.createSsl(ca.read(ca.ca));
    expect(await call(client(port, noCert, 'localhost'), '/tessera.v1.KV/Get')).toMatch(/^error/);
    expect((await rawSocket(port, 3000)).end).toBe('closed'); // silent: no TLS hello within the timeout
  }, 20_000);
});
