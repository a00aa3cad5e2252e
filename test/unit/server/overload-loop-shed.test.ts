/**
 * Load shedding on event-loop lag (issue 9 §4: request floods starved the leader's Raft ticks): while the
 * node's loop lags past its threshold (a quarter of the election timeout), a unary KV call, each op of a
 * Pipeline, and a Scan are refused at arrival with RESOURCE_EXHAUSTED, without reaching the node (no read,
 * no proposal), and counted as overloadRefused{reason="loop"}; once the loop is on time they are served.
 * The lag source is a fake (the lag is set by the test).
 */
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { loadNodeConfig } from '../../../src/config';
import type { NodeHost } from '../../../src/node';
import { createNodeMetrics } from '../../../src/obs';
import { admissionFor, kvServiceHandlers } from '../../../src/server/kv-service';
import { CONNECTION_LIGHT_OPS } from '../../../src/server/memory-budget';
import { LoopAdmission } from '../../../src/server/loop-admission';
import { OpenPipelines } from '../../../src/server/pipeline';

const turn = () => new Promise<void>((r) => setImmediate(r));
const config = loadNodeConfig({
  argv: ['--id', '1', '--listen', '127.0.0.1:1', '--peers', '1=127.0.0.1:1', '--data-dir', '/nonexistent'],
  env: {},
});

/** A node that answers every proposal and read at once, counting them. */
function fakeHost(counts: { proposals: number; reads: number }): NodeHost {
  return {
    groupFor: () => 1,
    propose: async () => {
      counts.proposals++;
      return { result: { type: 'put' }, header: {} };
    },
    read: async (_g: number, _mode: string, fn: (sm: unknown) => Promise<unknown>) => {
      counts.reads++;
      const sm = { scan: async () => ({ items: [], more: false, nextStart: null }), get: async () => null };
      return { value: await fn(sm), header: {} };
    },
  } as unknown as NodeHost;
}

function unaryCall(handler: unknown, request: unknown): Promise<number | 'OK'> {
  return new Promise((resolve) =>
    (handler as grpc.handleUnaryCall<unknown, unknown>)({ request, getDeadline: () => Infinity } as never, (err) =>
      resolve(err ? (err.code as number) : 'OK'),
    ),
  );
}

/** A Pipeline call that records its results (always drained). */
class PipelineCall extends EventEmitter {
  cancelled = false;
  writable = true;
  writableLength = 0;
  writableHighWaterMark = 16;
  readonly results: { index: number; error?: { code: number } }[] = [];
  write(msg: { results: { index: number; error?: { code: number } }[] }, cb: () => void): boolean {
    this.results.push(...msg.results);
    cb();
    return true;
  }
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  end(): void {}
  getDeadline(): number {
    return Infinity;
  }
  getPeer(): string {
    return '127.0.0.1:5000';
  }
}

/** KV handlers over a fake node whose loop lags by lagMs(). */
function nodeWithLag(lagMs: () => number) {
  const metrics = createNodeMetrics();
  const admission = admissionFor(config, metrics, { lagMs });
  const counts = { proposals: 0, reads: 0 };
  const handlers = kvServiceHandlers(
    () => fakeHost(counts),
    config,
    metrics,
    new OpenPipelines(),
    undefined,
    admission,
  );
  return { metrics, admission, counts, handlers };
}

describe('shedding on event-loop lag', () => {
  it('LoopAdmission sheds only past its threshold and counts each refusal', () => {
    let lagMs = 0;
    let shed = 0;
    const a = new LoopAdmission({ lagMs: () => lagMs }, 125, () => shed++);
    expect(a.shed()).toBe(false);
    lagMs = 125;
    expect(a.shed()).toBe(false);
    lagMs = 126;
    expect([a.shed(), a.shed(), shed]).toEqual([true, true, 2]);
  });

  it('a light connection is shed only past twice the threshold', () => {
    let lagMs = 300;
    const a = new LoopAdmission({ lagMs: () => lagMs }, 250);
    expect([a.shed(false), a.shed(true)]).toEqual([true, false]);
    lagMs = 501;
    expect(a.shed(true)).toBe(true);
  });

  it('while the loop lags moderately, a heavy connection is refused and a light one (few ops) is served', async () => {
    const { admission, counts, handlers } = nodeWithLag(() => 400);
    const put = { key: Buffer.from('k'), value: Buffer.from('v'), session: null };
    const light = new PipelineCall();
    (handlers.pipeline as (c: unknown) => void)(light);
    light.emit('data', { ops: [1, 2].map((id) => ({ id, timeoutMs: 0, op: 'put', put })) });
    // A heavy connection: the flood's connection holds CONNECTION_LIGHT_OPS ops in the node's budget.
    const heavyPeer = '127.0.0.1:6000';
    for (let i = 0; i < CONNECTION_LIGHT_OPS; i++) expect(admission.budget.tryAcquireOp(10, heavyPeer)).toBe(true);
    const heavy = new PipelineCall();
    heavy.getPeer = () => heavyPeer;
    (handlers.pipeline as (c: unknown) => void)(heavy);
    heavy.emit('data', { ops: [1, 2].map((id) => ({ id, timeoutMs: 0, op: 'put', put })) });
    await turn();
    await turn();
    expect(light.results.map((r) => r.error?.code)).toEqual([undefined, undefined]);
    expect(heavy.results.map((r) => r.error?.code)).toEqual([
      grpc.status.RESOURCE_EXHAUSTED,
      grpc.status.RESOURCE_EXHAUSTED,
    ]);
    expect(counts.proposals).toBe(2);
  });

  it('refuses unary calls, Pipeline ops and Scans at arrival while the loop lags, and serves them after', async () => {
    let lagMs = 0;
    const { metrics, admission, counts, handlers } = nodeWithLag(() => lagMs);
    expect(admission.loop.shedAfterMs).toBe(250); // default timing: election 1000 ms / 4
    const put = { key: Buffer.from('k'), value: Buffer.from('v'), session: null };
    const scan = { start: Buffer.alloc(0), end: Buffer.alloc(0), limit: 0, bytesMax: 0, consistency: 0 };
    const pipelineOps = (call: PipelineCall) => {
      (handlers.pipeline as (c: unknown) => void)(call);
      call.emit('data', { ops: [1, 2, 3].map((id) => ({ id, timeoutMs: 0, op: 'put', put })) });
      call.emit('end');
    };

    lagMs = 600; // past twice the threshold: light connections are shed too
    expect(await unaryCall(handlers.put, put)).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await unaryCall(handlers.get, { key: Buffer.from('k'), consistency: 0 })).toBe(
      grpc.status.RESOURCE_EXHAUSTED,
    );
    expect(await unaryCall(handlers.scan, scan)).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const lagging = new PipelineCall();
    pipelineOps(lagging);
    await turn();
    await turn();
    expect(lagging.results.map((r) => [r.index, r.error?.code])).toEqual([
      [1, grpc.status.RESOURCE_EXHAUSTED],
      [2, grpc.status.RESOURCE_EXHAUSTED],
      [3, grpc.status.RESOURCE_EXHAUSTED],
    ]);
    expect(counts).toEqual({ proposals: 0, reads: 0 }); // nothing reached the node
    const refused = await metrics.overloadRefused.get();
    expect(refused.values.find((v) => v.labels.reason === 'loop')?.value).toBe(6);
    expect([admission.budget.opsInUse, admission.budget.bytesInUse]).toEqual([0, 0]);

    lagMs = 10;
    expect(await unaryCall(handlers.put, put)).toBe('OK');
    expect(await unaryCall(handlers.scan, scan)).toBe('OK');
    const onTime = new PipelineCall();
    pipelineOps(onTime);
    await turn();
    await turn();
    expect(onTime.results.map((r) => [r.index, r.error?.code])).toEqual([
      [1, undefined],
      [2, undefined],
      [3, undefined],
    ]);
    expect(counts).toEqual({ proposals: 4, reads: 1 });
  });
});
