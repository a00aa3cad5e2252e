/**
 * Scans under load (issue 9 §4: 300 concurrent full scans of large values grew a leader to 2.3 GB, and 150
 * of them cost it its leadership: the pages were copied and serialized in one loop turn). Each Scan page is
 * capped at scanPageBytesMax (memory budget / 64); the scan gate lets two full pages run at once
 * (scanBytesInFlightMax), SCAN_QUEUED_MAX more wait (FIFO, each at most its wait bound), the rest get
 * RESOURCE_EXHAUSTED at once without reading anything. A scan holds its room until its answer was
 * serialized (a later loop turn), and the next one starts in a later turn.
 */
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { loadNodeConfig } from '../../../src/config';
import type { NodeHost } from '../../../src/node';
import { createNodeMetrics } from '../../../src/obs';
import { admissionFor, kvServiceHandlers, type Admission } from '../../../src/server/kv-service';
import { SCAN_QUEUED_MAX } from '../../../src/server/memory-budget';
import { OpenPipelines } from '../../../src/server/pipeline';
import { ScanGate } from '../../../src/server/scan-gate';

const MIB = 1024 * 1024;
const turn = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Scan handlers over a node whose reads wait until the test lets them finish (in `pending`, by start key). */
function scanHarness() {
  const config = loadNodeConfig({
    argv: ['--id', '1', '--listen', '127.0.0.1:1', '--peers', '1=127.0.0.1:1', '--data-dir', '/nonexistent'],
    env: { TESSERA_MEMORY_BUDGET_MIB: '64' },
  });
  const metrics = createNodeMetrics();
  const admission: Admission = admissionFor(config, metrics, { lagMs: () => 0 });
  const asked: number[] = [];
  const pending = new Map<string, () => void>();
  const host = {
    groupFor: () => 1,
    read: (_g: number, _mode: string, fn: (sm: unknown) => Promise<unknown>) => {
      const sm = {
        scan: async (start: Buffer, _e: Buffer | null, _limit: number, bytesMax: number) => {
          asked.push(bytesMax);
          await new Promise<void>((r) => pending.set(start.toString(), r));
          return { items: [], more: false, nextStart: null };
        },
      };
      return fn(sm).then((value) => ({ value, header: {} }));
    },
  } as unknown as NodeHost;
  const handlers = kvServiceHandlers(() => host, config, metrics, new OpenPipelines(), undefined, admission);
  const scan = handlers.scan as grpc.handleUnaryCall<unknown, unknown>;
  const codes = new Map<string, number | 'OK'>();
  /** Gate bytes in use seen inside each answer's callback (where grpc-js serializes the answer). */
  const heldAtAnswer: number[] = [];
  const call = (key: string, deadlineMs = Infinity) =>
    new Promise<void>((resolve) =>
      scan(
        {
          request: { start: Buffer.from(key), end: Buffer.alloc(0), limit: 0, bytesMax: 0, consistency: 0 },
          getDeadline: () => (deadlineMs === Infinity ? Infinity : Date.now() + deadlineMs),
        } as never,
        (err) => {
          codes.set(key, err ? (err.code as number) : 'OK');
          if (!err) heldAtAnswer.push(admission.scans.bytesInUse);
          resolve();
        },
      ),
    );
  return { admission, asked, pending, codes, heldAtAnswer, call };
}

describe('Scans in the scan gate and the node budget', () => {
  it('runs two full pages at once, queues 16 in order, refuses the rest at once, and releases every byte', async () => {
    const h = scanHarness();
    expect(h.admission.bounds.scanPageBytesMax).toBe(MIB); // 64 MiB / 64, under --scan-bytes-max (4 MiB)
    expect(h.admission.bounds.scanBytesInFlightMax).toBe(2 * MIB);
    const keys = Array.from({ length: 40 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    const calls = keys.map((k) => h.call(k));
    await turn();
    expect([...h.pending.keys()]).toEqual(['k00', 'k01']); // two reads, not 40
    const refused = [...h.codes].filter(([, c]) => c === grpc.status.RESOURCE_EXHAUSTED).map(([k]) => k);
    expect(refused).toEqual(keys.slice(2 + SCAN_QUEUED_MAX)); // refused at once, the queue full
    expect(h.admission.scans.queued).toBe(SCAN_QUEUED_MAX);
    // Each finished scan lets the next waiter in, in order, in a later turn, after its answer went out.
    for (let i = 0; i < 2 + SCAN_QUEUED_MAX; i++) {
      const k = keys[i] as string;
      h.pending.get(k)!();
      h.pending.delete(k);
      const next = keys[i + 2] as string;
      await turn(); // the answer of k goes out in this turn; its room is released in the next one
      if (i + 2 < 2 + SCAN_QUEUED_MAX) expect(h.pending.has(next)).toBe(false);
      for (let t = 0; t < 3; t++) await turn();
      if (i + 2 < 2 + SCAN_QUEUED_MAX) expect(h.pending.has(next)).toBe(true);
      expect(h.pending.size).toBeLessThanOrEqual(2);
    }
    await Promise.all(calls);
    expect(h.asked.every((b) => b === MIB)).toBe(true);
    expect([...h.codes.values()].filter((c) => c === 'OK').length).toBe(2 + SCAN_QUEUED_MAX);
    // Its room was still held while the answer was serialized (the callback), for every answered scan.
    expect(h.heldAtAnswer.every((b) => b >= MIB)).toBe(true);
    await turn();
    expect([h.admission.scans.bytesInUse, h.admission.budget.bytesInUse, h.admission.budget.opsInUse]).toEqual([
      0, 0, 0,
    ]);
  });

  it('refuses a queued scan once its wait bound (half its deadline) passes', async () => {
    const h = scanHarness();
    const running = [h.call('a'), h.call('b')];
    await turn();
    const waiting = h.call('c', 200); // waits at most 100 ms
    await sleep(20);
    expect(h.codes.has('c')).toBe(false);
    await waiting;
    expect(h.codes.get('c')).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(h.admission.scans.queued).toBe(0);
    for (const p of h.pending.values()) p();
    await Promise.all(running);
    await turn();
    expect(h.admission.scans.bytesInUse).toBe(0);
  });
});

describe('ScanGate', () => {
  it('admits by bytes in FIFO order, lets a scan larger than the gate run alone, releases once', async () => {
    const refusal = new TesseraError('RESOURCE_EXHAUSTED', 'full');
    const gate = new ScanGate(100, 2, () => refusal);
    const a = await gate.acquire(60, 1000);
    const order: string[] = [];
    const big = gate.acquire(500, 1000).then((r) => (order.push('big'), r)); // counts as 100: waits for all room
    const small = gate.acquire(10, 1000).then((r) => (order.push('small'), r)); // FIFO: behind big, though it fits
    await expect(gate.acquire(1, 1000)).rejects.toBe(refusal); // two wait already
    await turn();
    expect(order).toEqual([]);
    a();
    a(); // a second release is a no-op
    const bigRelease = await big;
    expect(gate.bytesInUse).toBe(100);
    await turn();
    expect(order).toEqual(['big']);
    bigRelease();
    (await small)();
    expect(order).toEqual(['big', 'small']);
    await turn();
    expect([gate.bytesInUse, gate.queued]).toEqual([0, 0]);
  });
});
