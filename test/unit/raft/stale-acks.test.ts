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
