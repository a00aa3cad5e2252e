// LinkProxy against a TCP echo server on ephemeral ports: pass-through, cut, hold (blackhole), delay and
// one-direction hold; and the pure translation of grudges into link states.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LinkProxy } from '../net/link-proxy';
import { healthyLinkState } from '../net/link-state';
import { dropKey, peerLinkState, splitDrops } from '../net/grudge';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An echo server that also records what it received. */
async function echoServer(): Promise<{ port: number; received: () => string }> {
  let received = '';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('data', (d) => {
      received += d.toString();
      s.write(d);
    });
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as net.AddressInfo).port, received: () => received };
}

async function proxyTo(port: number): Promise<LinkProxy> {
  const p = new LinkProxy({
    name: 't',
    listenHost: '127.0.0.1',
    listenPort: 0,
    targetHost: '127.0.0.1',
    targetPort: port,
  });
  await p.start();
  cleanups.push(() => p.close());
  return p;
}

interface TestClient {
  socket: net.Socket;
  data: () => string;
  closed: () => boolean;
}

async function connect(p: LinkProxy, mayFail = false): Promise<TestClient> {
  const [h, port] = p.address.split(':');
  const socket = net.connect({ host: h!, port: Number(port) });
  let data = '';
  let closed = false;
  socket.on('data', (d) => (data += d.toString()));
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  await new Promise<void>((r, j) => {
    socket.once('connect', () => r());
    socket.once('error', (e) => (mayFail ? r() : j(e)));
  });
  cleanups.push(() => void socket.destroy());
  return { socket, data: () => data, closed: () => closed };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('LinkProxy', () => {
  it('passes bytes both ways when healthy', async () => {
    const echo = await echoServer();
    const p = await proxyTo(echo.port);
    const c = await connect(p);
    c.socket.write('hello');
    await waitFor(() => c.data() === 'hello');
    expect(echo.received()).toBe('hello');
    expect(p.connectionCount).toBe(1);
  });

  it('cut severs open connections and resets new ones until healed', async () => {
    const echo = await echoServer();
    const p = await proxyTo(echo.port);
    const c = await connect(p);
    c.socket.write('a');
    await waitFor(() => c.data() === 'a');
    p.setState({ ...healthyLinkState(), refuse: true });
    await waitFor(() => c.closed());
    expect(p.connectionCount).toBe(0);
    const c2 = await connect(p, true);
    await waitFor(() => c2.closed());
    expect(p.accepted).toBe(1);
    p.setState(healthyLinkState());
    const c3 = await connect(p);
    c3.socket.write('b');
    await waitFor(() => c3.data() === 'b');
  });

  it('hold accepts but never delivers while held, then delivers in order on release', async () => {
    const echo = await echoServer();
    const p = await proxyTo(echo.port);
    const s = healthyLinkState();
    s.forward.held = true;
    s.backward.held = true;
    p.setState(s);
    const c = await connect(p);
    c.socket.write('one');
    c.socket.write('two');
    await sleep(150);
    expect(echo.received()).toBe('');
    expect(c.closed()).toBe(false);
    p.setState(healthyLinkState());
    await waitFor(() => c.data() === 'onetwo');
  });

  it('holding one direction delivers the other (asymmetric)', async () => {
    const echo = await echoServer();
    const p = await proxyTo(echo.port);
    const s = healthyLinkState();
    s.backward.held = true;
    p.setState(s);
    const c = await connect(p);
    c.socket.write('x');
    await waitFor(() => echo.received() === 'x');
    await sleep(100);
    expect(c.data()).toBe('');
    p.setState(healthyLinkState());
    await waitFor(() => c.data() === 'x');
  });

  it('delay adds latency per direction and keeps order', async () => {
    const echo = await echoServer();
    const p = await proxyTo(echo.port);
    const s = healthyLinkState();
    s.forward.delayMs = 120;
    p.setState(s);
    const c = await connect(p);
    const t0 = performance.now();
    c.socket.write('1');
    c.socket.write('2');
    await waitFor(() => c.data() === '12');
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(110);
    expect(elapsed).toBeLessThan(1000);
  });
});

describe('grudge to link states', () => {
  it('symmetric drops cut both proxies in cut mode and hold them in hold mode', () => {
    const drops = splitDrops([1], [2, 3]);
    expect(peerLinkState({ drops, mode: 'cut', delayMs: 0 }, 1, 2).refuse).toBe(true);
    expect(peerLinkState({ drops, mode: 'cut', delayMs: 0 }, 3, 1).refuse).toBe(true);
    expect(peerLinkState({ drops, mode: 'cut', delayMs: 0 }, 2, 3)).toEqual(healthyLinkState());
    const held = peerLinkState({ drops, mode: 'hold', delayMs: 0 }, 2, 1);
    expect(held.refuse).toBe(false);
    expect(held.forward.held && held.backward.held).toBe(true);
  });

  it('a one-way drop a>b holds forward on a->b and backward on b->a', () => {
    const drops = new Set([dropKey(1, 2)]);
    const ab = peerLinkState({ drops, mode: 'cut', delayMs: 0 }, 1, 2);
    const ba = peerLinkState({ drops, mode: 'cut', delayMs: 0 }, 2, 1);
    expect(ab).toMatchObject({ refuse: false, forward: { held: true }, backward: { held: false } });
    expect(ba).toMatchObject({ refuse: false, forward: { held: false }, backward: { held: true } });
  });

  it('delay applies to every peer link in both directions', () => {
    const s = peerLinkState({ drops: new Set(), mode: 'cut', delayMs: 50 }, 2, 3);
    expect(s.forward.delayMs).toBe(50);
    expect(s.backward.delayMs).toBe(50);
  });
});
