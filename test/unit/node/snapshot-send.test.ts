/**
 * Leader side of a snapshot send (snapshot-transfer.ts sendSnapshot) over a fake transport: every send
 * settles, the reader is closed whatever the outcome, the core hears every outcome, failures are logged
 * rate-limited and retried with backoff, and a skipped send is logged.
 */
import { describe, expect, it } from 'vitest';
import type { Group } from '../../../src/node/group';
import { sendSnapshot, type SnapshotSendContext } from '../../../src/node/snapshot-transfer';
import { createNodeMetrics, type Logger } from '../../../src/obs';
import type { Message } from '../../../src/raft';
import type { Transport } from '../../../src/transport';

interface Harness {
  ctx: SnapshotSendContext;
  g: Group;
  reports: { peer: number; ok: boolean }[];
  readers: { closed: boolean }[];
  logs: { level: string; msg: string; fields: Record<string, unknown> }[];
  clock: { now: number };
  sends: number;
  /** How each transport send ends. */
  outcome: () => Promise<void>;
}

function harness(): Harness {
  const h = {} as Harness;
  h.reports = [];
  h.readers = [];
  h.logs = [];
  h.clock = { now: 1_000_000 };
  h.sends = 0;
  h.outcome = () => Promise.resolve();
  const log =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void => {
      h.logs.push({ level, msg, fields });
    };
  const logger = {
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    debug: log('debug'),
  } as unknown as Logger;
  const transport = {
    sendSnapshot: async () => {
      h.sends++;
      return h.outcome();
    },
  } as unknown as Transport;
  h.ctx = {
    transport,
    logger,
    metrics: createNodeMetrics(),
    chunkBytes: 1024,
    schedule: () => undefined,
    backoff: { initialMs: 100, maxMs: 1000 },
    logEveryMs: 5000,
    nowMs: () => h.clock.now,
  };
  h.g = {
    id: 1,
    snapshotSends: new Set<number>(),
    sm: {
      applied: 10,
      openSnapshot: () => {
        const r = { closed: false, close: async () => void (r.closed = true) };
        h.readers.push(r);
        return r;
      },
    },
    core: { reportSnapshot: (peer: number, ok: boolean) => h.reports.push({ peer, ok }) },
  } as unknown as Group;
  return h;
}

const snapshotTo = (to: number): Message & { type: 'snapshot' } =>
  ({
    type: 'snapshot',
    from: 1,
    to,
    term: 2,
    snapshot: { meta: { index: 10, term: 2, config: { voters: [1, 2], learners: [] } }, data: Buffer.alloc(0) },
  }) as unknown as Message & {
    type: 'snapshot';
  };

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

describe('snapshot send (leader side)', () => {
  it('a send that fails: reader closed, the core told, peer out of the sending set, failure logged', async () => {
    const h = harness();
    h.outcome = () => Promise.reject(new Error('peer 2 refused the snapshot: already receiving a snapshot'));
    sendSnapshot(h.ctx, h.g, snapshotTo(2));
    expect(h.g.snapshotSends.has(2)).toBe(true);
    await settle();
    expect(h.reports).toEqual([{ peer: 2, ok: false }]);
    expect(h.readers.map((r) => r.closed)).toEqual([true]);
    expect(h.g.snapshotSends.size).toBe(0);
    expect(h.logs.filter((l) => l.msg === 'snapshot send failed')).toHaveLength(1);
  });

  it('a send that throws before streaming (no connection) still closes the reader and reports', async () => {
    const h = harness();
    h.ctx.transport = {
      sendSnapshot: () => {
        throw new Error('no connection to peer 2 for a snapshot');
      },
    } as unknown as Transport;
    sendSnapshot(h.ctx, h.g, snapshotTo(2));
    await settle();
    expect(h.reports).toEqual([{ peer: 2, ok: false }]);
    expect(h.readers.map((r) => r.closed)).toEqual([true]);
    expect(h.g.snapshotSends.size).toBe(0);
  });

  it('a success closes the reader, reports ok and resets the backoff', async () => {
    const h = harness();
    sendSnapshot(h.ctx, h.g, snapshotTo(2));
    await settle();
    expect(h.reports).toEqual([{ peer: 2, ok: true }]);
    expect(h.readers.map((r) => r.closed)).toEqual([true]);
  });

  it('retries with exponential backoff after failures, logs rate-limited, and a snapshot while one is in flight is reported and logged', async () => {
    const h = harness();
    h.outcome = () => Promise.reject(new Error('receiver gone'));
    sendSnapshot(h.ctx, h.g, snapshotTo(2));
    await settle();
    expect(h.sends).toBe(1);
    // within the backoff (100 ms): not sent, the core is told, no reader opened
    h.clock.now += 50;
    sendSnapshot(h.ctx, h.g, snapshotTo(2));
    expect(h.sends).toBe(1);
    expect(h.readers).toHaveLength(1);
    expect(h.reports.at(-1)).toEqual({ peer: 2, ok: false });
    // after it: sent again; fails again, so the next delay doubles (200 ms)
    h.clock.now += 60;
    sendSnapshot(h.ctx, h.g, snapshotTo(2));
    await settle();
    expect(h.sends).toBe(2);
    h.clock.now += 150;
    sendSnapshot(h.ctx, h.g, snapshotTo(2));
    expect(h.sends).toBe(2);
    h.clock.now += 60;
    sendSnapshot(h.ctx, h.g, snapshotTo(2));
    await settle();
    expect(h.sends).toBe(3);
    // all within 5 s: one warning line, the rest counted
    expect(h.logs.filter((l) => l.level === 'warn')).toHaveLength(1);
    h.clock.now += 6000;
    h.outcome = () => new Promise(() => undefined); // in flight forever (the transport's timer would end it)
    sendSnapshot(h.ctx, h.g, snapshotTo(2));
    sendSnapshot(h.ctx, h.g, snapshotTo(2));
    expect(h.sends).toBe(4);
    expect(h.reports.at(-1)).toEqual({ peer: 2, ok: false });
    const skipped = h.logs.filter((l) => l.msg === 'snapshot not sent');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.fields.why).toMatch(/still in flight/);
    expect(skipped[0]!.fields.suppressedSinceLastLog).toBeGreaterThan(0);
    // a success resets the backoff
    h.g.snapshotSends.clear();
    h.outcome = () => Promise.resolve();
    sendSnapshot(h.ctx, h.g, snapshotTo(2));
    await settle();
    expect(h.reports.at(-1)).toEqual({ peer: 2, ok: true });
    h.outcome = () => Promise.reject(new Error('x'));
    sendSnapshot(h.ctx, h.g, snapshotTo(2));
    await settle();
    h.clock.now += 101;
    const before = h.sends;
    sendSnapshot(h.ctx, h.g, snapshotTo(2));
    expect(h.sends).toBe(before + 1);
  });

  it('a core that throws while hearing the outcome leaves no unhandled rejection and still frees the peer', async () => {
    const h = harness();
    const unhandled: unknown[] = [];
    const on = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', on);
    try {
      (h.g.core as unknown as { reportSnapshot: () => void }).reportSnapshot = () => {
        throw new Error('core closed');
      };
      h.outcome = () => Promise.reject(new Error('receiver gone'));
      sendSnapshot(h.ctx, h.g, snapshotTo(2));
      await new Promise((r) => setTimeout(r, 100));
      expect(unhandled).toEqual([]);
      expect(h.g.snapshotSends.size).toBe(0);
      expect(h.readers.map((r) => r.closed)).toEqual([true]);
    } finally {
      process.off('unhandledRejection', on);
    }
  });
});
