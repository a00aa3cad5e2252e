/**
 * Unary KV responses in the node budget (response-budget.ts): a response is charged until grpc-js has
 * handed it to the HTTP/2 stream or the call is over; a large one that does not fit is replaced by
 * RESOURCE_EXHAUSTED; small ones (a write's outcome) always go out; other services are not touched.
 */
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { InflightBudget } from '../../../src/server/memory-budget';
import { responseBudgetInterceptor } from '../../../src/server/response-budget';

const MIB = 1024 * 1024;

/** The grpc-js call below the interceptor: records what reaches the HTTP/2 stream. */
class FakeNext {
  listener: { onCancel(): void } | null = null;
  readonly sent: unknown[] = [];
  readonly statuses: Partial<grpc.StatusObject>[] = [];
  readonly pending: (() => void)[] = [];
  start(listener: { onCancel(): void }): void {
    this.listener = listener;
  }
  sendMetadata(): void {}
  sendMessage(message: unknown, callback: () => void): void {
    this.sent.push(message);
    this.pending.push(callback);
  }
  sendStatus(status: Partial<grpc.StatusObject>): void {
    this.statuses.push(status);
  }
  startRead(): void {}
  getPeer(): string {
    return 'test';
  }
}

function open(budget: InflightBudget, path: string) {
  const next = new FakeNext();
  let refused = 0;
  const call = responseBudgetInterceptor(budget, () => refused++)({ path } as never, next as never);
  call.start({
    onReceiveMetadata: () => undefined,
    onReceiveMessage: () => undefined,
    onReceiveHalfClose: () => undefined,
    onCancel: () => undefined,
  });
  return { next, call, refused: () => refused };
}

describe('unary responses in the node budget', () => {
  it('charges a response until it is flushed, refuses a large one past the budget, always sends small ones', () => {
    const budget = new InflightBudget(4 * MIB, 100);
    const a = open(budget, '/tessera.v1.KV/Get');
    a.call.sendMessage({ found: true, value: Buffer.alloc(1.5 * MIB) }, () => undefined);
    expect(a.next.sent).toHaveLength(1);
    expect(budget.bytesInUse).toBeGreaterThan(3 * MIB); // twice its value (object and serialized copy), unread

    const b = open(budget, '/tessera.v1.KV/Scan');
    b.call.sendMessage({ items: [{ key: Buffer.alloc(1), value: Buffer.alloc(MIB) }] }, () => undefined);
    expect(b.next.sent).toHaveLength(0);
    expect(b.next.statuses.map((s) => s.code)).toEqual([grpc.status.RESOURCE_EXHAUSTED]);
    expect(b.refused()).toBe(1);

    const c = open(budget, '/tessera.v1.KV/Put');
    let putDone = false;
    c.call.sendMessage({ header: { term: 1 } }, () => (putDone = true));
    expect(c.next.sent).toHaveLength(1); // a write's outcome goes out whatever the budget
    c.next.pending[0]?.();
    expect(putDone).toBe(true);

    a.next.pending[0]?.(); // the client read it
    expect(budget.bytesInUse).toBe(0);
  });

  it('releases what a call still holds when it ends unflushed, once', () => {
    const budget = new InflightBudget(8 * MIB, 100);
    const a = open(budget, '/tessera.v1.KV/Get');
    a.call.sendMessage({ found: true, value: Buffer.alloc(MIB) }, () => undefined);
    expect(budget.bytesInUse).toBeGreaterThan(MIB);
    a.next.listener?.onCancel(); // the client went away without reading
    expect(budget.bytesInUse).toBe(0);
    a.next.pending[0]?.(); // a late callback does not release twice
    expect(budget.bytesInUse).toBe(0);
  });

  it('leaves other services alone', () => {
    const budget = new InflightBudget(MIB, 100);
    const a = open(budget, '/tessera.v1.Admin/Status');
    a.call.sendMessage({ blob: Buffer.alloc(4 * MIB) }, () => undefined);
    expect(a.next.sent).toHaveLength(1);
    expect(budget.bytesInUse).toBe(0);
  });
});
