/**
 * Scans under load (issue 9 §4: 300 concurrent full scans of large values grew a leader to 2.3 GB): each
 * Scan page is capped at scanPageBytesMax (memory budget / 64) and reserves those bytes in the node's
 * in-flight budget while it is read and answered, so past budget / 8 of concurrent pages the next Scan
 * gets RESOURCE_EXHAUSTED at once, without reading anything; the reservation is released after.
 */
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { loadNodeConfig } from '../../../src/config';
import type { NodeHost } from '../../../src/node';
import { createNodeMetrics } from '../../../src/obs';
import { admissionFor, kvServiceHandlers } from '../../../src/server/kv-service';
import { OpenPipelines } from '../../../src/server/pipeline';

const MIB = 1024 * 1024;

describe('Scan pages in the node budget', () => {
  it('caps the page bytes, refuses scans past the budget at once, and releases their bytes', async () => {
    const config = loadNodeConfig({
      argv: ['--id', '1', '--listen', '127.0.0.1:1', '--peers', '1=127.0.0.1:1', '--data-dir', '/nonexistent'],
      env: { TESSERA_MEMORY_BUDGET_MIB: '64' },
    });
    const metrics = createNodeMetrics();
    const admission = admissionFor(config, metrics);
    expect(admission.bounds.scanPageBytesMax).toBe(MIB); // 64 MiB / 64, under --scan-bytes-max (4 MiB)
    const asked: number[] = [];
    const pending: (() => void)[] = [];
    const host = {
      groupFor: () => 1,
      read: (_g: number, _mode: string, fn: (sm: unknown) => Promise<unknown>) => {
        const sm = {
          scan: async (_s: Buffer, _e: Buffer | null, _limit: number, bytesMax: number) => {
            asked.push(bytesMax);
            return { items: [], more: false, nextStart: null };
          },
        };
        return new Promise((resolve) =>
          pending.push(() => void fn(sm).then((value) => resolve({ value, header: {} }))),
        );
      },
    } as unknown as NodeHost;
    const handlers = kvServiceHandlers(() => host, config, metrics, new OpenPipelines(), undefined, admission);
    const scan = handlers.scan as grpc.handleUnaryCall<unknown, unknown>;
    const codes: (number | 'OK')[] = [];
    const call = (i: number) =>
      new Promise<void>((resolve) =>
        scan(
          {
            request: { start: Buffer.from(`k${i}`), end: Buffer.alloc(0), limit: 0, bytesMax: 0, consistency: 0 },
            getDeadline: () => Infinity,
          } as never,
          (err) => {
            codes.push(err ? (err.code as number) : 'OK');
            resolve();
          },
        ),
      );
    // 8 MiB in flight at most: 7 pages of 1 MiB (plus each op's own bytes) fit, the others are refused.
    const calls = Array.from({ length: 40 }, (_, i) => call(i));
    await new Promise((r) => setImmediate(r));
    const refusedAtOnce = codes.filter((c) => c === grpc.status.RESOURCE_EXHAUSTED).length;
    expect(refusedAtOnce).toBeGreaterThanOrEqual(32);
    expect(pending.length).toBe(40 - refusedAtOnce);
    expect(admission.budget.bytesInUse).toBeLessThanOrEqual(8 * MIB);
    for (const p of pending) p();
    await Promise.all(calls);
    expect(asked.every((b) => b === MIB)).toBe(true);
    expect(codes.filter((c) => c === 'OK').length).toBe(40 - refusedAtOnce);
    expect(admission.budget.bytesInUse).toBe(0);
    expect(admission.budget.opsInUse).toBe(0);
    // The budget is free again: the next scan is served.
    pending.length = 0;
    const again = call(99);
    await new Promise((r) => setImmediate(r));
    pending.forEach((p) => p());
    await again;
    expect(codes.at(-1)).toBe('OK');
  });
});
