/**
 * The in-flight window is bounded in bytes too (RaftConfig.inflightBytesMax, etcd's MaxInflightBytes): a
 * leader stops sending appends to a follower that does not acknowledge once the appends in flight hold
 * inflightBytesMax entry bytes, so a follower that stopped reading cannot make the leader buffer up to
 * inflightMessagesMax x appendBytesMax (256 MiB by default) for it. Measured before the bound with real
 * processes (scripts/memory-baseline.ts --stop-follower): 2,000 writes of 64 KiB with one follower stopped
 * took the leader to 391 MiB, 236 MiB of it buffers for the stopped follower.
 */
import { describe, expect, it } from 'vitest';
import type { Message, RaftConfig } from '../../../src/raft';
import { Inflights } from '../../../src/raft/inflights';
import { Harness, enc } from './harness';

class BytesHarness extends Harness {
  override configFor(id: number): RaftConfig {
    return { ...super.configFor(id), inflightBytesMax: 250 };
  }
}

describe('Inflights by bytes', () => {
  it('is full at bytesMax bytes, whatever the count, and frees bytes with acknowledgements', () => {
    const f = new Inflights(100, 1000);
    f.add(1, 400);
    f.add(2, 400);
    expect(f.full()).toBe(false);
    f.add(3, 400); // one message may pass the bound: the window is then full
    expect(f.full()).toBe(true);
    expect(f.bytes).toBe(1200);
    f.freeLE(2);
    expect(f.bytes).toBe(400);
    expect(f.full()).toBe(false);
    f.freeFirstOne();
    expect(f.bytes).toBe(0);
    f.add(4, 5000); // one message larger than the bound still goes when nothing is in flight
    expect(f.full()).toBe(true);
    f.reset();
    expect([f.count, f.bytes, f.full()]).toEqual([0, 0, false]);
  });

  it('bytesMax 0 bounds by count only', () => {
    const f = new Inflights(2);
    f.add(1, 1e9);
    expect(f.full()).toBe(false);
    f.add(2, 1e9);
    expect(f.full()).toBe(true);
  });
});

describe('a leader with inflightBytesMax', () => {
  it('stops sending appends to a follower that does not acknowledge once they hold that many bytes', () => {
    const h = new BytesHarness([1, 2, 3], { appendBytesMax: 1 }); // one entry per append
    h.elect(1);
    h.node(2).holdReady = true; // 2 receives but never acks
    h.delivered = [];
    for (let i = 0; i < 6; i++) h.core(1).propose(enc(`v${i}-${'x'.repeat(100)}`));
    h.stabilize();
    const toTwo = h.delivered.filter(
      (m): m is Message & { type: 'append' } => m.type === 'append' && m.to === 2 && m.entries.length > 0,
    );
    // ~105 bytes each: the third brings the window past 250 bytes.
    expect(toTwo.length).toBe(3);
    expect(h.core(1).status().progress!.get(2)).toMatchObject({ state: 'replicate', inflight: 3 });
    expect(h.core(1).status().commit).toBe(7); // 3 acks everything: a quorum of {1, 3}
    h.node(2).holdReady = false;
    h.tickAll(3);
    expect(h.node(2).sm.length).toBe(6);
  });
});
