import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { ReadBatcher } from '../../../src/node/read-batcher';
import { Waiters } from '../../../src/node/waiters';

function read(log: string[], name: string) {
  return {
    live: true,
    run: (i: number) => log.push(`${name}@${i}`),
    fail: (e: TesseraError) => log.push(`${name}:${e.code}`),
  };
}

describe('ReadBatcher', () => {
  it('gives reads that arrive together one context and serves them once applied reaches the read index', () => {
    const b = new ReadBatcher();
    const log: string[] = [];
    b.enqueue(read(log, 'a'));
    b.enqueue(read(log, 'b'));
    const contexts: number[] = [];
    b.startRound((ctx) => (contexts.push(ctx), { ok: true }));
    b.enqueue(read(log, 'c'));
    b.startRound((ctx) => (contexts.push(ctx), { ok: true }));
    expect(contexts).toEqual([1, 2]);
    expect(b.size).toBe(3);
    b.readState(1, 10);
    b.readState(2, 12);
    b.serve(9);
    expect(log).toEqual([]);
    b.serve(11);
    expect(log).toEqual(['a@10', 'b@10']);
    b.serve(12);
    expect(log).toEqual(['a@10', 'b@10', 'c@12']);
    expect(b.size).toBe(0);
  });

  it('fails a round the core refuses or drops, and everything on failAll', () => {
    const b = new ReadBatcher();
    const log: string[] = [];
    b.enqueue(read(log, 'a'));
    b.startRound(() => ({ ok: false, error: new TesseraError('NOT_LEADER', 'x') }));
    b.enqueue(read(log, 'b'));
    b.startRound(() => ({ ok: true }));
    b.readFailed(2, new TesseraError('UNAVAILABLE', 'lost'));
    b.enqueue(read(log, 'c'));
    b.failAll(new TesseraError('UNAVAILABLE', 'closing'));
    expect(log).toEqual(['a:NOT_LEADER', 'b:UNAVAILABLE', 'c:UNAVAILABLE']);
    expect(b.size).toBe(0);
  });
});

describe('Waiters', () => {
  it('resolves on the matching (index, term) and fails a replaced entry as retryable', async () => {
    const w = new Waiters<string>();
    const a = w.add(5, 2, 10_000);
    const b = w.add(6, 2, 10_000);
    expect(w.applied(5, 2, 'ok')).not.toBeNull();
    expect(w.applied(6, 3, 'other')).toBeNull();
    await expect(a).resolves.toBe('ok');
    await expect(b).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(w.size).toBe(0);
  });

  it('times out with DEADLINE_EXCEEDED and fails all on demand', async () => {
    const w = new Waiters<string>();
    const a = w.add(1, 1, 20);
    await expect(a).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    const b = w.add(2, 1, 10_000);
    w.failAll(() => new TesseraError('UNAVAILABLE', 'lost leadership'));
    await expect(b).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(w.size).toBe(0);
  });
});
