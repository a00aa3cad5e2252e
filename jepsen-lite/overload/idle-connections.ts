/**
 * Pattern 5, idle HTTP connections: idleSockets TCP connections to the HTTP port, half sending nothing,
 * half half a request header, held for idleHoldMs while the runner's probe times /healthz. Issue 9:
 * 1,000 of them made /healthz take 2 s.
 *
 * Outcome per socket: refused (connection refused or answered 408/429/503), closed (the node closed or
 * reset it within the hold: a header or idle timeout, a connection cap), hung (still open at the end of
 * the hold: a node without such a timeout keeps it forever).
 */
import * as net from 'node:net';
import type { AbuserOutcome, AttackReport, AttackTarget, OverloadSizes } from './catalogue';
import { Tally, sleep } from './tally';

interface Held {
  end: Promise<{ outcome: AbuserOutcome; code: string; atMs: number }>;
  socket: net.Socket;
}

function hold(t: AttackTarget, halfHeader: boolean, t0: number): Held {
  const socket = net.connect({ host: t.httpHost, port: t.httpPort });
  let answer = '';
  const end = new Promise<{ outcome: AbuserOutcome; code: string; atMs: number }>((resolve) => {
    const at = (): number => Date.now() - t0;
    socket.on('connect', () => {
      if (halfHeader) socket.write('GET /healthz HTTP/1.1\r\nHost: overload\r\nX-Slow: ');
    });
    socket.on('data', (d) => (answer += d.toString('latin1').slice(0, 64)));
    socket.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ outcome: e.code === 'ECONNREFUSED' ? 'refused' : 'closed', code: e.code ?? 'error', atMs: at() }),
    );
    socket.on('close', () => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
      const refused = status === '408' || status === '429' || status === '503';
      resolve({ outcome: refused ? 'refused' : 'closed', code: status ? `HTTP ${status}` : 'closed', atMs: at() });
    });
  });
  return { end, socket };
}

export async function idleConnections(t: AttackTarget, s: OverloadSizes): Promise<AttackReport> {
  const t0 = Date.now();
  const tally = new Tally();
  const held = Array.from({ length: s.idleSockets }, (_, i) => hold(t, i % 2 === 1, t0));
  let lastCloseMs = 0;
  await Promise.race([Promise.all(held.map((h) => h.end)), sleep(s.idleHoldMs)]);
  for (const h of held) {
    const r = await Promise.race([h.end, Promise.resolve(null)]);
    if (r) {
      tally.add(r.outcome, r.code);
      lastCloseMs = Math.max(lastCloseMs, r.atMs);
    } else tally.add('hung', `open after ${s.idleHoldMs} ms`);
    h.socket.destroy();
  }
  return tally.report('idle-connections', t0, [
    `${s.idleSockets} sockets held up to ${s.idleHoldMs} ms; last closed by the node at ${lastCloseMs} ms`,
  ]);
}
