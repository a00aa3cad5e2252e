/**
 * The overload bounds (issue 9 §4): the node's in-flight budget, the bounds derived from the memory
 * budget, and flow control of streaming calls (response-queue.ts, pipeline.ts, multi.ts): a stream whose
 * responses do not drain is not read, a result that does not fit the budget becomes RESOURCE_EXHAUSTED,
 * and every byte charged is released.
 */
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { loadNodeConfig, optionUsage } from '../../../src/config';
import { createNodeMetrics } from '../../../src/obs';
import {
  CONNECTION_LIGHT_OPS,
  InflightBudget,
  OP_OVERHEAD_BYTES,
  bufferBytes,
  deriveOverloadBounds,
  requestBytes,
} from '../../../src/server/memory-budget';
import { serveMulti } from '../../../src/server/multi';
import { OpenPipelines, servePipeline, type PipelineOpWire } from '../../../src/server/pipeline';
import { ResponseQueue } from '../../../src/server/response-queue';

const MIB = 1024 * 1024;
const turn = () => new Promise<void>((r) => setImmediate(r));

/** A server stream whose writes complete only when the test says so (a client that does not read). */
class SlowCall extends EventEmitter {
  cancelled = false;
  writable = true;
  ended = false;
  paused = false;
  pauses = 0;
  resumes = 0;
  writableHighWaterMark = 16;
  readonly written: { results: Record<string, any>[] }[] = [];
  private readonly callbacks: (() => void)[] = [];
  request: { ops: unknown[] } = { ops: [] };
  get writableLength(): number {
    return this.callbacks.length;
  }
  write(msg: { results: Record<string, any>[] }, cb: () => void): boolean {
    this.written.push(msg);
    this.callbacks.push(cb);
    return this.callbacks.length < this.writableHighWaterMark;
  }
  /** The client read everything written so far. */
  drain(): void {
    for (const cb of this.callbacks.splice(0)) cb();
  }
  pause(): this {
    this.paused = true;
    this.pauses++;
    return this;
  }
  resume(): this {
    this.paused = false;
    this.resumes++;
    return this;
  }
  end(): void {
    this.ended = true;
  }
  getDeadline(): number {
    return Infinity;
  }
  results(): Record<string, any>[] {
    return this.written.flatMap((m) => m.results);
  }
}

describe('--memory-budget-mib', () => {
  const base = ['--id', '1', '--listen', '127.0.0.1:1', '--peers', '1=127.0.0.1:1', '--data-dir', '/x'];
  it('defaults to 512 MiB, takes a flag or TESSERA_MEMORY_BUDGET_MIB, refuses less than 64 MiB, and is in --help', () => {
    expect(loadNodeConfig({ argv: base, env: {} }).memoryBudgetBytes).toBe(512 * MIB);
    expect(loadNodeConfig({ argv: [...base, '--memory-budget-mib', '128'], env: {} }).memoryBudgetBytes).toBe(
      128 * MIB,
    );
    expect(loadNodeConfig({ argv: base, env: { TESSERA_MEMORY_BUDGET_MIB: '96' } }).memoryBudgetBytes).toBe(96 * MIB);
    expect(() => loadNodeConfig({ argv: [...base, '--memory-budget-mib', '63'], env: {} })).toThrow(
      /--memory-budget-mib: 63 is out of range 64\.\./,
    );
    expect(() => loadNodeConfig({ argv: [...base, '--memory-budget-mib', 'lots'], env: {} })).toThrow(/not an integer/);
    expect(optionUsage()).toMatch(/--memory-budget-mib N +memory budget of the node in MiB/);
  });
});

describe('InflightBudget', () => {
  it('admits ops until the bytes or the op count would pass their bound, and releases exactly', () => {
    const refused: string[] = [];
    const b = new InflightBudget(1000, 3, { refused: (r) => refused.push(r) });
    expect(b.tryAcquireOp(400)).toBe(true);
    expect(b.tryAcquireOp(500)).toBe(true);
    expect(b.tryAcquireOp(200)).toBe(false); // 1100 > 1000
    expect(b.tryAcquireOp(100)).toBe(true); // exactly 1000
    expect(b.tryAcquireOp(0)).toBe(false); // 4 ops > 3
    expect(refused).toEqual(['bytes', 'ops']);
    expect([b.bytesInUse, b.opsInUse]).toEqual([1000, 3]);
    b.releaseOp(500);
    expect(b.tryAcquireBytes(500)).toBe(true);
    expect(b.tryAcquireBytes(1)).toBe(false);
    b.releaseBytes(500);
    b.releaseOp(400);
    b.releaseOp(100);
    expect([b.bytesInUse, b.opsInUse]).toEqual([0, 0]);
  });

  it('derives every bound from the memory budget', () => {
    const d = deriveOverloadBounds(512 * MIB, 4 * MIB);
    expect(d).toEqual({
      memoryBudgetBytes: 512 * MIB,
      inflightBytesMax: 64 * MIB,
      opsInFlightMax: 1024,
      callQueuedBytesMax: 8 * MIB,
      sessionMemoryMb: 32,
      scanPageBytesMax: 4 * MIB,
      scanBytesInFlightMax: 8 * MIB,
    });
    const small = deriveOverloadBounds(64 * MIB, 4 * MIB);
    expect(small.inflightBytesMax).toBe(8 * MIB);
    expect(small.callQueuedBytesMax).toBe(MIB);
    expect(small.sessionMemoryMb).toBe(4);
    expect(small.scanPageBytesMax).toBe(MIB);
    expect(small.scanBytesInFlightMax).toBe(2 * MIB);
  });

  it('admits a read with its expected result bytes, learning them from completed reads', () => {
    const b = new InflightBudget(64 * MIB, 1000);
    const get = { id: 1, get: { key: Buffer.alloc(10) } };
    expect(b.opBytes(get, true)).toBe(OP_OVERHEAD_BYTES + 10 + 256 * 1024); // pessimistic at first
    for (let i = 0; i < 500; i++) b.noteRead(100); // small values: the estimate falls to them
    expect(b.opBytes(get, true)).toBeLessThan(OP_OVERHEAD_BYTES + 10 + 1024);
    b.noteRead(MIB); // one large value: the estimate rises at once
    expect(b.opBytes(get, true)).toBeGreaterThan(MIB / 2);
    expect(b.opBytes(get, false)).toBe(OP_OVERHEAD_BYTES + 10);
  });

  it('counts the Buffers of a request or result', () => {
    const put = { id: 1, put: { key: Buffer.alloc(10), value: Buffer.alloc(1000), session: null } };
    expect(requestBytes(put)).toBe(OP_OVERHEAD_BYTES + 1010);
    const batch = { compares: [], ops: [{ put: { key: Buffer.alloc(5), value: Buffer.alloc(500) } }], session: null };
    expect(requestBytes(batch)).toBe(OP_OVERHEAD_BYTES + 505);
    const results = { results: [{ get: { value: Buffer.alloc(7) } }, { get: { value: Buffer.alloc(5) } }] };
    expect(bufferBytes(results, 4)).toBe(12);
    expect(bufferBytes(results, 2)).toBe(0);
  });
});

describe('ResponseQueue', () => {
  it('pauses while responses are not drained, resumes once they are, and releases every byte', async () => {
    const budget = new InflightBudget(10 * MIB, 100);
    const call = new SlowCall();
    const events: string[] = [];
    const q = new ResponseQueue(
      call,
      budget,
      MIB,
      {
        pause: () => events.push('pause'),
        resume: () => events.push('resume'),
        flushed: () => undefined,
        stalled: () => undefined,
      },
      (index) => ({ index, error: 'refused' }),
    );
    for (let i = 0; i < 3; i++) {
      q.push({ index: i, get: { value: Buffer.alloc(400 * 1024) } });
      await turn(); // one message per turn
    }
    expect(events).toEqual(['pause']); // 1.2 MiB unflushed > 1 MiB
    expect(budget.bytesInUse).toBeGreaterThan(1.1 * MIB);
    call.drain();
    expect(events).toEqual(['pause', 'resume']);
    expect(budget.bytesInUse).toBe(0);
  });

  it('replaces a result that does not fit the budget by a small refusal, and close() releases the rest', async () => {
    const budget = new InflightBudget(MIB, 100);
    const call = new SlowCall();
    const q = new ResponseQueue(
      call,
      budget,
      8 * MIB,
      { pause: () => undefined, resume: () => undefined, flushed: () => undefined, stalled: () => undefined },
      (index) => ({ index, error: 'refused' }),
    );
    q.push({ index: 1, get: { value: Buffer.alloc(600 * 1024) } });
    q.push({ index: 2, get: { value: Buffer.alloc(600 * 1024) } });
    await turn();
    expect(call.results().map((r) => r.error ?? 'ok')).toEqual(['ok', 'refused']);
    expect(budget.bytesInUse).toBeLessThanOrEqual(MIB);
    q.close(); // the stream was cancelled: its write callbacks never come
    expect(budget.bytesInUse).toBe(0);
    call.drain(); // a late callback does not release twice
    expect(budget.bytesInUse).toBe(0);
  });
});

describe('ResponseQueue per-call bound', () => {
  it('one undrained stream holds at most 4x callQueuedBytesMax of results, leaving the node budget to others', async () => {
    const budget = new InflightBudget(64 * MIB, 100);
    const call = new SlowCall();
    const hooks = {
      pause: () => undefined,
      resume: () => undefined,
      flushed: () => undefined,
      stalled: () => undefined,
    };
    const q = new ResponseQueue(call, budget, MIB, hooks, (index) => ({ index, error: 'refused' }));
    for (let i = 0; i < 40; i++) {
      q.push({ index: i, get: { value: Buffer.alloc(256 * 1024) } });
      if (i % 4 === 3) await turn();
    }
    const ok = call.results().filter((r) => r.error === undefined).length;
    expect(ok).toBe(15); // 15 x (256 KiB + overhead) <= 4 MiB < 16 x
    expect(budget.bytesInUse).toBeLessThan(4.1 * MIB);
    expect(budget.tryAcquireBytes(50 * MIB)).toBe(true); // another stream still fits
    // A single result larger than the bound still goes out on an empty call.
    const lone = new SlowCall();
    new ResponseQueue(lone, budget, MIB, hooks, () => ({})).push({ index: 1, get: { value: Buffer.alloc(2 * MIB) } });
    await turn();
    expect(lone.results()[0]?.get.value.length).toBe(2 * MIB);
  });
});

const getOp = (id: number): PipelineOpWire => ({ id, timeoutMs: 0, op: 'get', get: { key: Buffer.from('k') } });

describe('servePipeline flow control', () => {
  it('stops reading a stream whose responses are not drained and reads it again once they are', async () => {
    const call = new SlowCall();
    const budget = new InflightBudget(64 * MIB, 1000);
    const big = { get: { found: true, value: Buffer.alloc(256 * 1024) } };
    servePipeline(call as never, async () => ({ ...big }), new OpenPipelines(), createNodeMetrics(), 5000, {
      budget,
      callQueuedBytesMax: MIB,
    });
    for (let i = 0; i < 8; i++) {
      call.emit('data', { ops: [getOp(i)] });
      await turn();
      await turn();
    }
    expect(call.paused).toBe(true); // 2 MiB unflushed > 1 MiB
    expect(call.pauses).toBe(1);
    call.drain();
    expect(call.paused).toBe(false);
    expect(budget.bytesInUse).toBe(0);
    expect(budget.opsInUse).toBe(0);
  });

  it('refuses requests past the node budget at once with RESOURCE_EXHAUSTED', async () => {
    const call = new SlowCall();
    const budget = new InflightBudget(10 * MIB, 2);
    const pending: (() => void)[] = [];
    const one = () => new Promise<Record<string, unknown>>((r) => pending.push(() => r({ get: { found: false } })));
    servePipeline(call as never, one, new OpenPipelines(), createNodeMetrics(), 5000, {
      budget,
      callQueuedBytesMax: MIB,
    });
    call.emit('data', { ops: [getOp(1), getOp(2), getOp(3), getOp(4)] });
    await turn();
    const refused = call.results();
    expect(refused.map((r) => [r.index, r.error?.code])).toEqual([
      [3, grpc.status.RESOURCE_EXHAUSTED],
      [4, grpc.status.RESOURCE_EXHAUSTED],
    ]);
    for (const p of pending) p();
    await turn();
    await turn();
    expect(call.results().map((r) => r.index)).toEqual([3, 4, 1, 2]);
    expect(budget.opsInUse).toBe(0);
  });
});

/** Serves a Pipeline on `call` (stallMs 300) and sends it 4 gets of 512 KiB it does not read: it pauses. */
async function stallPipeline(call: SlowCall): Promise<void> {
  const big = { get: { found: true, value: Buffer.alloc(512 * 1024) } };
  servePipeline(call as never, async () => ({ ...big }), new OpenPipelines(), createNodeMetrics(), 5000, {
    budget: new InflightBudget(64 * MIB, 1000),
    callQueuedBytesMax: MIB,
    stallMs: 300,
  });
  for (let i = 0; i < 4; i++) {
    call.emit('data', { ops: [getOp(i)] });
    await turn();
    await turn();
  }
  expect(call.paused).toBe(true);
}

describe('a stream left undrained', () => {
  it('is ended with RESOURCE_EXHAUSTED after stallMs, and not before', async () => {
    const call = new SlowCall();
    const errors: { code: number }[] = [];
    call.on('error', (e: { code: number }) => errors.push(e));
    await stallPipeline(call);
    await new Promise((r) => setTimeout(r, 100));
    expect(errors).toEqual([]);
    await new Promise((r) => setTimeout(r, 400));
    expect(errors.map((e) => e.code)).toEqual([grpc.status.RESOURCE_EXHAUSTED]);
  });

  it('is not ended when its client reads in time', async () => {
    const call = new SlowCall();
    const errors: unknown[] = [];
    call.on('error', (e) => errors.push(e));
    await stallPipeline(call);
    await new Promise((r) => setTimeout(r, 100));
    call.drain();
    await new Promise((r) => setTimeout(r, 400));
    expect(errors).toEqual([]);
  });
});

describe('serveMulti flow control', () => {
  it('starts no more requests while its responses are not drained', async () => {
    const call = new SlowCall();
    call.request = { ops: Array.from({ length: 3000 }, (_, i) => ({ get: { key: Buffer.from(`k${i}`) } })) };
    let started = 0;
    const one = async () => {
      started++;
      return { get: { found: true, value: Buffer.alloc(4096) } };
    };
    serveMulti(call as never, one, createNodeMetrics(), 5000, {
      budget: new InflightBudget(1024 * MIB, 100_000),
      callQueuedBytesMax: MIB,
    });
    for (let i = 0; i < 10; i++) await turn();
    // The first window (1024 results, 4 MiB) went out in one message; the stream did not drain: no more.
    expect(started).toBe(1024);
    expect(call.ended).toBe(false);
    for (let i = 0; i < 20 && !call.ended; i++) {
      call.drain();
      await turn();
      await turn();
    }
    expect(started).toBe(3000);
    expect(call.ended).toBe(true);
    expect(new Set(call.results().map((r) => r.index)).size).toBe(3000);
  });
});

describe('InflightBudget fairness between connections', () => {
  it('keeps a quarter of the ops for light connections: a flood over a few connections cannot refuse them all', () => {
    const budget = new InflightBudget(Number.MAX_SAFE_INTEGER, 1024);
    const flood = ['10.0.0.9:1', '10.0.0.9:2', '10.0.0.9:3', '10.0.0.9:4'];
    let floodAdmitted = 0;
    for (let i = 0; i < 4000; i++) if (budget.tryAcquireOp(100, flood[i % flood.length]!)) floodAdmitted++;
    expect(floodAdmitted).toBe(1024 - 256);
    // A bystander doing a few ops at a time still gets in, up to the node's bound.
    const bystander = '10.0.0.7:5';
    for (let i = 0; i < 8; i++) expect(budget.tryAcquireOp(100, bystander)).toBe(true);
    // Light connections share the reserve until it is gone; the node's bound holds for everyone.
    let light = 8;
    for (let c = 0; c < 100; c++) for (let i = 0; i < 8; i++) if (budget.tryAcquireOp(100, `10.1.0.${c}:1`)) light++;
    expect(light).toBe(256);
    expect(budget.opsInUse).toBe(1024);
    expect(budget.tryAcquireOp(100, '10.2.0.1:1')).toBe(false);
  });

  it('counts a connection as heavy only while it holds CONNECTION_LIGHT_OPS ops, and forgets it at zero', () => {
    const budget = new InflightBudget(Number.MAX_SAFE_INTEGER, 4 * CONNECTION_LIGHT_OPS);
    const heavy = '10.0.0.9:1';
    let n = 0;
    while (budget.tryAcquireOp(10, heavy)) n++;
    expect(n).toBe(3 * CONNECTION_LIGHT_OPS); // heavy connections stop at 3/4
    expect(budget.tryAcquireOp(10, '10.0.0.8:1')).toBe(true); // a light one still gets in
    for (let i = 0; i < n; i++) budget.releaseOp(10, heavy);
    budget.releaseOp(10, '10.0.0.8:1');
    expect(budget.opsInUse).toBe(0);
    expect(budget.bytesInUse).toBe(0);
    expect(budget.connectionsHoldingOps).toBe(0);
    // Ops tied to no connection keep the plain bound.
    let free = 0;
    while (budget.tryAcquireOp(10)) free++;
    expect(free).toBe(4 * CONNECTION_LIGHT_OPS);
  });
});
