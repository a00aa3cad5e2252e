import { describe, expect, it } from 'vitest';
import { APPEND_ENTRIES_MAX } from '../../../src/raft';
import { Harness, dec, enc } from './harness';

describe('proposeBatch', () => {
  it('gives the outcomes of propose() in order and sends each follower one append with all the entries', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    const leader = h.core(1);
    const last = leader.status().lastIndex;
    const outcomes = leader.proposeBatch([enc('a'), enc('b'), enc('c')]);
    const term = leader.status().term;
    expect(outcomes).toEqual([
      { ok: true, index: last + 1, term },
      { ok: true, index: last + 2, term },
      { ok: true, index: last + 3, term },
    ]);
    const appends = leader.takeMessagesNow().filter((m) => m.type === 'append');
    expect(appends.map((m) => m.to).sort()).toEqual([2, 3]);
    for (const m of appends)
      if (m.type === 'append')
        expect(m.entries.map((e) => (e.kind === 'normal' ? dec(e.data) : e.kind))).toEqual(['a', 'b', 'c']);
    h.queue.push(...appends);
    h.stabilize();
    for (const id of [1, 2, 3]) expect(h.node(id).sm).toEqual(['a', 'b', 'c']);
  });

  it('with one entry behaves like propose(): same messages and state', () => {
    const a = new Harness([1, 2, 3]);
    const b = new Harness([1, 2, 3]);
    a.elect(1);
    b.elect(1);
    const ra = a.core(1).propose(enc('x'));
    const [rb] = b.core(1).proposeBatch([enc('x')]);
    expect(rb).toEqual(ra);
    expect(b.core(1).ready().messagesNow).toEqual(a.core(1).ready().messagesNow);
  });

  it('a follower refuses every entry with the leader hint; a transfer refuses them too', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    expect(h.core(2).proposeBatch([enc('a'), enc('b')])).toEqual([
      { ok: false, reason: 'notLeader', leader: 1 },
      { ok: false, reason: 'notLeader', leader: 1 },
    ]);
    h.isolate(3);
    h.core(1).transferLeader(3);
    expect(h.core(1).proposeBatch([enc('a')])).toEqual([{ ok: false, reason: 'transferInProgress', leader: 1 }]);
  });

  it('refuses the entries past uncommittedBytesMax and accepts the ones before', () => {
    const h = new Harness([1, 2, 3], { uncommittedBytesMax: 10 });
    h.elect(1);
    h.isolate(2);
    h.isolate(3);
    const out = h.core(1).proposeBatch([enc('12345'), enc('12345'), enc('1')]);
    expect(out.map((o) => o.ok)).toEqual([true, true, false]);
    expect(out[2]).toMatchObject({ ok: false, reason: 'tooLarge' });
  });
});

describe('takeMessagesNow', () => {
  it('hands out appends, heartbeats and heartbeat responses only, and the next Ready keeps the rest', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    const leader = h.core(1);
    leader.proposeBatch([enc('a')]);
    leader.readIndex(9);
    const now = leader.takeMessagesNow();
    expect(new Set(now.map((m) => m.type))).toEqual(new Set(['append', 'heartbeat']));
    expect(leader.takeMessagesNow()).toEqual([]);
    // a candidate's vote requests are not handed out early
    h.isolate(1);
    h.tick(2, 40);
    const follower = h.core(2);
    const early = follower.takeMessagesNow();
    expect(early.some((m) => m.type === 'vote' || m.type === 'preVote')).toBe(false);
    const rd = follower.ready();
    expect(rd.messagesNow.some((m) => m.type === 'vote' || m.type === 'preVote')).toBe(true);
  });

  it('closes the ReadIndex round: a read after its heartbeats left gets a round of its own', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.propose(1, 'a');
    const leader = h.core(1);
    leader.readIndex(1);
    const first = leader.takeMessagesNow().filter((m) => m.type === 'heartbeat');
    expect(first.length).toBe(2);
    leader.readIndex(2);
    const second = leader.takeMessagesNow().filter((m) => m.type === 'heartbeat');
    expect(second.length).toBe(2);
    const ctx = (ms: typeof first) => new Set(ms.map((m) => (m.type === 'heartbeat' ? m.context : -1)));
    expect([...ctx(second)][0]).toBeGreaterThan([...ctx(first)][0] as number);
    // Only the answers to the first round arrive: read 1 is released, read 2 is not.
    h.queue.push(...first);
    h.stabilize();
    expect(h.node(1).readStates.map((r) => r.context)).toEqual([1]);
    h.queue.push(...second);
    h.stabilize();
    expect(h.node(1).readStates.map((r) => r.context)).toEqual([1, 2]);
  });
});

describe('lazyCommit', () => {
  /** Proposes one entry on leader 1 and delivers everything; returns the messages the leader sent after the first acks. */
  function oneWrite(lazyCommit: boolean) {
    const h = new Harness([1, 2, 3], { lazyCommit });
    h.elect(1);
    h.stabilize();
    const before = h.delivered.length;
    h.propose(1, 'x');
    h.stabilize();
    const sent = h.delivered.slice(before);
    const index = h.core(1).status().lastIndex;
    return { h, sent, index };
  }

  it('off: the leader tells followers the new commit index at once, with an extra (empty) append', () => {
    const { h, sent, index } = oneWrite(false);
    const appends = sent.filter((m) => m.type === 'append' && m.from === 1);
    expect(
      appends
        .filter((m) => m.type === 'append' && m.entries.length === 0 && m.commit === index)
        .map((m) => m.to)
        .sort(),
    ).toEqual([2, 3]);
    for (const id of [1, 2, 3]) expect(h.node(id).sm).toEqual(['x']);
  });

  it('on: followers learn the commit index from the next append or heartbeat, with no extra message', () => {
    const { h, sent, index } = oneWrite(true);
    // One append per follower with the entry, one answer each: nothing else.
    expect(sent.map((m) => `${m.type} ${m.from}->${m.to}`).sort()).toEqual([
      'append 1->2',
      'append 1->3',
      'appendResp 2->1',
      'appendResp 3->1',
    ]);
    expect(h.node(1).sm).toEqual(['x']); // the leader applies at once
    expect(h.core(2).status().commit).toBeLessThan(index);
    // The next write carries the commit index of the first.
    h.propose(1, 'y');
    h.stabilize();
    expect(h.node(2).sm).toEqual(['x']);
    expect(h.node(3).sm).toEqual(['x']);
    // A heartbeat carries the rest.
    h.tick(1, 1);
    h.stabilize();
    for (const id of [1, 2, 3]) expect(h.node(id).sm).toEqual(['x', 'y']);
  });
});

describe('append size', () => {
  it('an append carries at most APPEND_ENTRIES_MAX entries, however small they are', () => {
    const h = new Harness([1, 2, 3], { appendBytesMax: 64 * 1024 * 1024 });
    h.elect(1);
    const n = APPEND_ENTRIES_MAX + 100;
    const outcomes = h.core(1).proposeBatch(Array.from({ length: n }, () => enc('x')));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    h.delivered = [];
    h.stabilize();
    const sizes = h.delivered.flatMap((m) => (m.type === 'append' && m.entries.length > 0 ? [m.entries.length] : []));
    expect(Math.max(...sizes)).toBe(APPEND_ENTRIES_MAX);
    for (const id of [1, 2, 3]) expect(h.node(id).sm.length).toBe(n);
  });
});
