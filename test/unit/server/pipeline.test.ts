import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { createNodeMetrics } from '../../../src/obs';
import { OpenPipelines, servePipeline, type PipelineOpWire } from '../../../src/server/pipeline';

/** A server duplex stream as far as servePipeline uses it. */
class FakeCall extends EventEmitter {
  cancelled = false;
  writable = true;
  ended = false;
  readonly written: { results: Record<string, any>[] }[] = [];
  write(msg: { results: Record<string, any>[] }): boolean {
    if (this.ended) throw new Error('write after end');
    this.written.push(msg);
    return true;
  }
  end(): void {
    this.ended = true;
  }
  results(): Record<string, any>[] {
    return this.written.flatMap((m) => m.results);
  }
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const op = (id: number, key: string, timeoutMs = 0): PipelineOpWire => ({
  id,
  timeoutMs,
  op: 'get',
  get: { key: Buffer.from(key) },
});

function serve(one: (op: PipelineOpWire, timeoutMs: number) => Promise<Record<string, unknown>>, max?: number) {
  const call = new FakeCall();
  const open = new OpenPipelines();
  const metrics = createNodeMetrics();
  servePipeline(call as never, one, open, metrics, 5000, max);
  return { call, open, metrics };
}

describe('servePipeline', () => {
  it('answers each request by its id; results completing in one turn share one message', async () => {
    const budgets: number[] = [];
    const { call } = serve(async (o, timeoutMs) => {
      budgets.push(timeoutMs);
      return { get: { found: true, value: Buffer.from(`v-${o.id}`) } };
    });
    call.emit('data', { ops: [op(7, 'a', 250), op(9, 'b'), op(3, 'c', 60_000)] });
    await turn();
    await turn();
    expect(call.written).toHaveLength(1);
    expect(call.results().map((r) => [r.index, r.get.value.toString()])).toEqual([
      [7, 'v-7'],
      [9, 'v-9'],
      [3, 'v-3'],
    ]);
    // A request's own budget, capped by the node's request timeout; 0 means the node's timeout.
    expect(budgets).toEqual([250, 5000, 5000]);
    expect(call.ended).toBe(false); // the stream stays open for more requests
  });

  it('counts request messages, their ops and response messages (the batching the clients get)', async () => {
    const { call, metrics } = serve(async () => ({ get: { found: false } }));
    call.emit('data', { ops: [op(1, 'a'), op(2, 'b'), op(3, 'c')] });
    call.emit('data', { ops: [op(4, 'd')] });
    await turn();
    await turn();
    call.emit('data', { ops: [op(5, 'e')] });
    await turn();
    await turn();
    expect(call.written).toHaveLength(2);
    const values = async (name: string) => (await metrics.registry.getSingleMetric(name)!.get()).values;
    const messages = await values('tessera_pipeline_messages_total');
    const by = (d: string) => messages.find((v) => v.labels.direction === d)?.value;
    expect([by('in'), by('out')]).toEqual([3, 2]);
    expect((await values('tessera_pipeline_ops_total'))[0]!.value).toBe(5);
  });

  it('a failing request is answered with its error and the others still succeed', async () => {
    const { call } = serve(async (o) => {
      if (o.id === 2)
        return {
          error: {
            code: grpc.status.INVALID_ARGUMENT,
            message: 'key is empty',
            trailers: { 'tessera-reason': 'INVALID_ARGUMENT' },
          },
        };
      return { get: { found: false } };
    });
    call.emit('data', { ops: [op(1, 'a'), op(2, '')] });
    await turn();
    await turn();
    const byId = new Map(call.results().map((r) => [r.index, r]));
    expect(byId.get(1)!.get).toEqual({ found: false });
    expect(byId.get(2)!.error.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('answers RESOURCE_EXHAUSTED for requests beyond the in-flight bound, and takes more once some finish', async () => {
    const release: (() => void)[] = [];
    const { call } = serve(
      (o) =>
        new Promise((resolve) => {
          release.push(() => resolve({ get: { found: true, value: Buffer.from(String(o.id)) } }));
        }),
      2,
    );
    call.emit('data', { ops: [op(1, 'a'), op(2, 'b'), op(3, 'c')] });
    await turn();
    expect(call.results().map((r) => [r.index, r.error?.code])).toEqual([[3, grpc.status.RESOURCE_EXHAUSTED]]);
    expect(call.results()[0]!.error.trailers['tessera-reason']).toBe('RESOURCE_EXHAUSTED');
    release.shift()!();
    await turn();
    call.emit('data', { ops: [op(4, 'd')] });
    release.shift()!();
    release.shift()!();
    await turn();
    await turn();
    expect(
      call
        .results()
        .map((r) => r.index)
        .sort(),
    ).toEqual([1, 2, 3, 4]);
    expect(
      call
        .results()
        .filter((r) => r.error)
        .map((r) => r.index),
    ).toEqual([3]);
  });

  it('ends its side after the client ended and every request was answered', async () => {
    let finish: () => void = () => undefined;
    const { call } = serve(() => new Promise((resolve) => (finish = () => resolve({ put: {} }))));
    call.emit('data', { ops: [{ id: 1, timeoutMs: 0, op: 'put', put: {} }] });
    call.emit('end');
    await turn();
    expect(call.ended).toBe(false);
    finish();
    await turn();
    await turn();
    expect(call.results().map((r) => r.index)).toEqual([1]);
    expect(call.ended).toBe(true);
  });

  it('endAll writes the results ready now, ends every stream and refuses new ones', async () => {
    const open = new OpenPipelines();
    const a = new FakeCall();
    servePipeline(a as never, async () => ({ get: { found: false } }), open, createNodeMetrics(), 5000);
    a.emit('data', { ops: [op(5, 'x')] });
    await Promise.resolve();
    await Promise.resolve();
    open.endAll(); // before the turn's flush: the ready result still goes out, then the end
    expect(a.results().map((r) => r.index)).toEqual([5]);
    expect(a.ended).toBe(true);
    const b = new FakeCall();
    const errors: Partial<grpc.StatusObject>[] = [];
    b.on('error', (e: Partial<grpc.StatusObject>) => errors.push(e));
    servePipeline(b as never, async () => ({}), open, createNodeMetrics(), 5000);
    expect(errors.map((e) => e.code)).toEqual([grpc.status.UNAVAILABLE]);
  });

  it('stops writing once the client cancelled', async () => {
    let finish: () => void = () => undefined;
    const { call, open } = serve(() => new Promise((resolve) => (finish = () => resolve({ get: { found: false } }))));
    call.emit('data', { ops: [op(1, 'a')] });
    call.cancelled = true;
    call.emit('cancelled');
    finish();
    await turn();
    await turn();
    expect(call.written).toEqual([]);
    open.endAll();
    expect(call.ended).toBe(false); // a cancelled stream is not ended again
  });
});

describe('OpenPipelines', () => {
  it('keeps only the streams still open', () => {
    const open = new OpenPipelines();
    const ended: string[] = [];
    const a = () => ended.push('a');
    const b = () => ended.push('b');
    expect(open.add(a)).toBe(true);
    expect(open.add(b)).toBe(true);
    open.remove(a);
    open.endAll();
    expect(ended).toEqual(['b']);
    expect(open.add(a)).toBe(false);
  });
});
