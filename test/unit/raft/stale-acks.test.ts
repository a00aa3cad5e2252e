/**
 * An append ack waits for persistence (messagesAfterPersist). When a host steps several messages between two
 * Readys (NodeHost does while a Ready is in flight), an ack for entries that a later step truncates (a newer
 * leader's conflicting suffix, or a snapshot) must not go out: the old leader could count entries this node
 * no longer holds toward a commit (simulator seed 20297595: "node 3 acked index 22 in term 5 ... durable last
 * index 21, term 6").
 */
import { describe, expect, it } from 'vitest';
import { Random } from '../../../src/base';
import { RaftCore, defaultRaftConfig } from '../../../src/raft';
import type { Entry, Message } from '../../../src/raft';
import { Harness } from './harness';

const voters = { voters: [1, 2, 3, 4, 5], learners: [], votersOutgoing: [] };
const log = (n: number, term: number): Entry[] =>
  Array.from({ length: n }, (_, i) => ({ kind: 'empty', term, index: i + 1 }) as Entry);

/** Node 3 holds entries 1..22 of term 5 durably, commit 19, following leader 4. */
function node3(): RaftCore {
  const hardState = { term: 5, vote: 4, commit: 19 };
  return new RaftCore(
    defaultRaftConfig(3),
    { hardState, snapshot: null, entries: log(22, 5), initialConfig: voters, applied: 19 },
    new Random(3),
  );
}

const acks = (ms: Message[]) =>
  ms
    .filter((m) => m.type === 'appendResp' && !m.reject)
    .map((m) => ({ term: m.term, index: m.type === 'appendResp' ? m.index : 0 }));

describe('acks queued for persistence', () => {
  it('an ack for entries that a later step truncates is dropped', () => {
    const core = node3();
    core.step({ type: 'append', from: 4, to: 3, term: 5, prevLogIndex: 22, prevLogTerm: 5, entries: [], commit: 20 });
    // Before the next Ready: leader 1 of term 6 replaces 21 and 22.
    core.step({
      type: 'append',
      from: 1,
      to: 3,
      term: 6,
      prevLogIndex: 20,
      prevLogTerm: 5,
      entries: [{ kind: 'empty', term: 6, index: 21 }],
      commit: 18,
    });
    const rd = core.ready();
    expect(rd.entries.map((e) => `${e.index}/${e.term}`)).toEqual(['21/6']);
    expect(acks(rd.messagesAfterPersist)).toEqual([{ term: 6, index: 21 }]);
  });

  it('acks below the truncation stay', () => {
    const core = node3();
    core.step({ type: 'append', from: 4, to: 3, term: 5, prevLogIndex: 20, prevLogTerm: 5, entries: [], commit: 20 });
    core.step({
      type: 'append',
      from: 1,
      to: 3,
      term: 6,
      prevLogIndex: 21,
      prevLogTerm: 5,
      entries: [{ kind: 'empty', term: 6, index: 22 }],
      commit: 18,
    });
    expect(acks(core.ready().messagesAfterPersist)).toEqual([
      { term: 5, index: 20 },
      { term: 6, index: 22 },
    ]);
  });

  it('an ack for entries above the commit index is dropped when a snapshot replaces the log', () => {
    const core = node3();
    core.step({ type: 'append', from: 4, to: 3, term: 5, prevLogIndex: 22, prevLogTerm: 5, entries: [], commit: 19 });
    const snapshot = { meta: { index: 30, term: 6, config: voters }, data: new Uint8Array() };
    core.step({ type: 'snapshot', from: 1, to: 3, term: 6, snapshot });
    expect(acks(core.ready().messagesAfterPersist)).toEqual([{ term: 6, index: 30 }]);
  });
});

describe('replies to a stale append', () => {
  it('carry only the term: a leader already in that term sends no snapshot for one (simulator seed 1579799395)', () => {
    // The leader's own append from an earlier term, delivered late to a follower that moved on to the
    // leader's new term. The reply must not read as the uninitialized replica's rejection at index 0,
    // which asks for a snapshot (receive.ts): a replica that applied a split refuses the parent's snapshot.
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.propose(1, 'a');
    h.stabilize();
    const old = h.delivered.find((m) => m.type === 'append' && m.from === 1 && m.to === 2);
    expect(old).toBeDefined();
    h.elect(2);
    h.elect(1);
    h.stabilize();
    const term = h.core(1).status().term;
    expect(term).toBeGreaterThan(old!.term);
    h.delivered = [];
    h.deliver(old!);
    h.stabilize();
    const replies = h.delivered.filter((m) => m.type === 'appendResp' && m.from === 2);
    expect(replies).toEqual([expect.objectContaining({ term, reject: false, index: 0 })]);
    expect(h.delivered.some((m) => m.type === 'snapshot')).toBe(false);
    expect(h.core(1).status().progress?.get(2)?.state).toBe('replicate');
  });
});

describe('a refused snapshot', () => {
  it("is followed by a probe from the leader's last entry, not by the same snapshot again", () => {
    // A new leader (match 0 for node 2: its acks are lost) is led to send node 2 a snapshot node 2 does not
    // need, and node 2's host refuses it (as rule 2 refuses a parent snapshot from before a split it
    // applied). Retrying from match + 1 = index 1, below the compacted log, would send that snapshot forever.
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    for (const v of ['a', 'b', 'c']) h.propose(1, v);
    h.stabilize();
    h.cut(2, 1);
    h.elect(3);
    h.elect(1);
    h.propose(1, 'd');
    h.stabilize();
    const st = h.core(1).status();
    expect(st.progress?.get(2)?.match).toBe(0);
    // Node 2 holds the log up to the entry before 'd' (the leader paused its probe): it needs no snapshot.
    expect(h.core(2).status().lastIndex).toBe(st.applied - 1);
    h.node(1).compact(st.applied - 1);
    let refused = 0;
    h.dropIf = (m) => m.type === 'snapshot' && m.to === 2 && ++refused > 0;
    h.core(1).step({
      type: 'appendResp',
      from: 2,
      to: 1,
      term: st.term,
      reject: true,
      index: 0,
      rejectHint: 0,
      hintTerm: 0,
    });
    h.heal();
    h.stabilize();
    h.tickAll(10);
    expect(refused).toBe(1);
    expect(h.core(1).status().progress?.get(2)).toMatchObject({
      state: 'replicate',
      match: h.core(1).status().lastIndex,
    });
    expect(h.node(2).sm).toEqual(['a', 'b', 'c', 'd']);
  });
});
