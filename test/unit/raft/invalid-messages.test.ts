/**
 * Messages from peers that break an invariant no correct peer breaks (issue 8 section 1): each forged
 * shape is refused by step() as invalidMessage with no effect at all (status unchanged, nothing to hand
 * out), where it used to throw InvariantError or change the core's state. The validation rules are in
 * src/raft/validate-message.ts; limits in src/raft/limits.ts.
 */
import { describe, expect, it } from 'vitest';
import { APPEND_ENTRIES_MAX, INDEX_MAX, TERM_MAX } from '../../../src/raft';
import type { ConfigState, Entry, Message, SnapshotMeta } from '../../../src/raft';
import { VOTERS, cluster } from './forged-cluster';
import { type Harness, enc } from './harness';

/** Steps `m` into node `id`: it must be refused as invalid and change nothing. */
function expectRefused(h: Harness, id: number, m: Message, detail?: RegExp): void {
  const core = h.core(id);
  const before = core.status();
  expect(core.hasReady()).toBe(false);
  const outcome = core.step(m);
  expect(outcome).toMatchObject({ ok: false, reason: 'invalidMessage' });
  if (detail && !outcome.ok && outcome.reason === 'invalidMessage') expect(outcome.detail).toMatch(detail);
  expect(core.status()).toEqual(before);
  expect(core.hasReady()).toBe(false);
}

const normal = (index: number, term: number): Entry => ({ kind: 'normal', term, index, data: enc('forged') });

function append(over: Partial<Message & { type: 'append' }>): Message {
  return {
    type: 'append',
    from: 1,
    to: 2,
    term: 3,
    prevLogIndex: 6,
    prevLogTerm: 3,
    entries: [normal(7, 3)],
    commit: 6,
    ...over,
  } as Message;
}

function snapshot(meta: Partial<SnapshotMeta>, term = 3): Message {
  return {
    type: 'snapshot',
    from: 1,
    to: 2,
    term,
    snapshot: { meta: { index: 10, term: 3, config: VOTERS, ...meta }, data: enc('[]') },
  };
}

function appendResp(over: Partial<Message & { type: 'appendResp' }>): Message {
  return {
    type: 'appendResp',
    from: 2,
    to: 1,
    term: 3,
    reject: false,
    index: 6,
    rejectHint: 0,
    hintTerm: 0,
    ...over,
  } as Message;
}

describe('forged messages are refused as invalidMessage and change nothing', () => {
  it('a term past TERM_MAX, e.g. the 2^53-2 vote that stopped every later election', () => {
    const h = cluster();
    expectRefused(
      h,
      2,
      { type: 'vote', from: 3, to: 2, term: 2 ** 53 - 2, lastLogIndex: 6, lastLogTerm: 3, transfer: false },
      /term/,
    );
    expectRefused(h, 2, { type: 'heartbeat', from: 1, to: 2, term: TERM_MAX + 1, commit: 6, context: 0 });
    expectRefused(h, 1, {
      type: 'appendResp',
      from: 2,
      to: 1,
      term: 2 ** 53 - 1,
      reject: true,
      index: 0,
      rejectHint: 0,
      hintTerm: 0,
    });
    expectRefused(h, 2, { type: 'timeoutNow', from: 1, to: 2, term: Number.MAX_SAFE_INTEGER });
    expectRefused(h, 2, { type: 'timeoutNow', from: 1, to: 2, term: 3.5 });
    expectRefused(h, 2, { type: 'timeoutNow', from: 1, to: 2, term: -1 });
  });

  it('(pre)votes whose last log index or term is out of range', () => {
    const h = cluster();
    expectRefused(
      h,
      2,
      { type: 'vote', from: 3, to: 2, term: 4, lastLogIndex: INDEX_MAX + 1, lastLogTerm: 3, transfer: false },
      /last log index/,
    );
    expectRefused(
      h,
      2,
      { type: 'vote', from: 3, to: 2, term: 4, lastLogIndex: 6, lastLogTerm: TERM_MAX + 1, transfer: false },
      /last log term/,
    );
    // A candidate's log holds no entry of a term above the one it campaigns in.
    expectRefused(
      h,
      2,
      { type: 'vote', from: 3, to: 2, term: 4, lastLogIndex: 6, lastLogTerm: 5, transfer: false },
      /last log term/,
    );
    expectRefused(h, 2, { type: 'preVote', from: 3, to: 2, term: 4, lastLogIndex: 2 ** 53, lastLogTerm: 3 });
  });

  it('an append with a gap at its first entry (threw InvariantError)', () => {
    const h = cluster();
    expectRefused(h, 2, append({ entries: [normal(8, 3)] }), /gap/);
  });

  it('an append with a gap or a repeat further in', () => {
    const h = cluster();
    expectRefused(h, 2, append({ entries: [normal(7, 3), normal(9, 3)] }), /gap/);
    expectRefused(h, 2, append({ entries: [normal(7, 3), normal(7, 3)] }), /gap/);
  });

  it('an append whose entry terms decrease', () => {
    const h = cluster();
    expectRefused(h, 2, append({ term: 4, entries: [normal(7, 4), normal(8, 3)] }), /term 3/);
  });

  it('an append with an entry term above the message term', () => {
    const h = cluster();
    expectRefused(h, 2, append({ entries: [normal(7, 4)] }), /term 4/);
    expectRefused(h, 2, append({ prevLogTerm: 4 }), /prev log term/);
  });

  it('an append with an entry term below prevLogTerm', () => {
    const h = cluster();
    expectRefused(h, 2, append({ entries: [normal(7, 2)] }), /term 2/);
    expectRefused(h, 2, append({ prevLogIndex: 0, prevLogTerm: 0, entries: [normal(1, 0)] }), /term 0/);
  });

  it('an append or heartbeat with a commit index past INDEX_MAX; a commit beyond the entries is clamped', () => {
    const h = cluster();
    expectRefused(h, 2, append({ commit: INDEX_MAX + 1 }), /commit/);
    expectRefused(h, 2, { type: 'heartbeat', from: 1, to: 2, term: 3, commit: 2 ** 53 - 1, context: 0 }, /commit/);
    // A leader sends its own commit index, which may be ahead of what the append proves: clamped, not refused.
    const core = h.core(2);
    expect(core.step(append({ entries: [normal(7, 3)], commit: INDEX_MAX }))).toEqual({ ok: true });
    expect(core.status().commit).toBe(7);
    expect(core.step({ type: 'heartbeat', from: 1, to: 2, term: 3, commit: INDEX_MAX, context: 0 })).toEqual({
      ok: true,
    });
    expect(core.status().commit).toBe(7);
  });

  it('an append with more than APPEND_ENTRIES_MAX entries, or entries past INDEX_MAX', () => {
    const h = cluster();
    const many = Array.from({ length: APPEND_ENTRIES_MAX + 1 }, (_, i) => normal(7 + i, 3));
    expectRefused(h, 2, append({ entries: many }), /limit/);
    expectRefused(h, 2, append({ prevLogIndex: INDEX_MAX, entries: [normal(INDEX_MAX + 1, 3)] }));
  });

  it('an append carrying an unknown entry kind, change type or a bad member id', () => {
    const h = cluster();
    const bad = (e: unknown): Message => append({ entries: [e as Entry] });
    expectRefused(h, 2, bad({ kind: 'mystery', term: 3, index: 7 }), /entry kind/);
    expectRefused(h, 2, bad({ kind: 'normal', term: 3, index: 7, data: 'not bytes' }), /bytes/);
    expectRefused(
      h,
      2,
      bad({ kind: 'config', term: 3, index: 7, change: { type: 'promoteEveryone', node: 4 } }),
      /change type/,
    );
    expectRefused(h, 2, bad({ kind: 'config', term: 3, index: 7, change: { type: 'addVoter', node: 0 } }), /node id/);
    const emptied: ConfigState = { voters: [], learners: [], votersOutgoing: [] };
    expectRefused(
      h,
      2,
      bad({ kind: 'config', term: 3, index: 7, change: { type: 'removeNode', node: 3 }, config: emptied }),
      /no voters/,
    );
  });

  it("an append ack beyond the leader's last index (threw InvariantError)", () => {
    const h = cluster();
    expectRefused(h, 1, appendResp({ index: 100 }), /beyond the leader's last index/);
    expectRefused(h, 1, appendResp({ index: 7 }), /beyond/);
  });

  it("a rejection whose hint is beyond the leader's last index, or whose hint term is above its term", () => {
    const h = cluster();
    expectRefused(h, 1, appendResp({ reject: true, index: 6, rejectHint: 100, hintTerm: 3 }), /reject hint/);
    expectRefused(h, 1, appendResp({ reject: true, index: 6, rejectHint: 5, hintTerm: 4 }), /hint term/);
  });

  it('a heartbeat response acknowledging a read round the leader never opened', () => {
    const h = cluster();
    expectRefused(h, 1, { type: 'heartbeatResp', from: 2, to: 1, term: 3, context: 99 }, /read round/);
  });

  it('a snapshot with a malformed meta: index 0, a term above the message term, a bad configuration', () => {
    const h = cluster();
    expectRefused(h, 2, snapshot({ index: 0 }), /index/);
    expectRefused(h, 2, snapshot({ term: 4 }), /term/);
    expectRefused(h, 2, snapshot({ term: 0 }), /term/);
    expectRefused(h, 2, snapshot({ config: { voters: [], learners: [1, 2, 3], votersOutgoing: [] } }), /no voters/);
    expectRefused(
      h,
      2,
      snapshot({ config: { voters: [1, 2, 3], learners: [3], votersOutgoing: [] } }),
      /both voter and learner/,
    );
    expectRefused(h, 2, snapshot({ config: { voters: [1, 2, 2, 3], learners: [], votersOutgoing: [] } }), /twice/);
    expectRefused(h, 2, snapshot({ config: { voters: [1, 2, 3], learners: [4, 4], votersOutgoing: [] } }), /twice/);
    expectRefused(h, 2, snapshot({ config: { voters: [1, 0, 3], learners: [], votersOutgoing: [] } }), /node id/);
  });

  it('a message addressed to another node, sent from ourselves, or from an invalid sender id', () => {
    const h = cluster();
    const hb = { type: 'heartbeat', from: 1, to: 2, term: 3, commit: 6, context: 0 } as const;
    expectRefused(h, 2, { ...hb, to: 3 }, /addressed/);
    expectRefused(h, 2, { ...hb, from: 2 }, /itself/);
    for (const from of [0, -1, 1.5, 2 ** 32]) expectRefused(h, 2, { ...hb, from }, /sender/);
  });

  it('an unknown message type', () => {
    const h = cluster();
    expectRefused(h, 2, { type: 'takeOver', from: 1, to: 2, term: 3 } as unknown as Message, /unknown message type/);
  });
});
