import { describe, expect, it } from 'vitest';
import type { Message } from '../../../src/raft';
import { Harness, enc } from './harness';

describe('log replication and commit', () => {
  it('replicates proposals to every node and applies them in order', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    for (const v of ['a', 'b', 'c']) expect(h.propose(1, v).ok).toBe(true);
    for (const id of [1, 2, 3]) {
      expect(h.node(id).sm).toEqual(['a', 'b', 'c']);
      expect(h.core(id).status().commit).toBe(4);
    }
  });

  it('the leader counts its own log toward commit only after advance() of the Ready carrying it', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.crash(3);
    const leader = h.core(1);
    const r = leader.propose(enc('x'));
    expect(r.ok).toBe(true);
    const rd = leader.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([2]);
    // Deliver the append to 2 and its ack back before the leader has persisted entry 2.
    for (const m of rd.messagesNow) h.deliver(m);
    h.node(2).handleReady(h.queue);
    const acks = h.queue.filter((m) => m.to === 1);
    h.queue = [];
    for (const m of acks) h.deliver(m);
    // Only one of the two needed copies is durable: the leader's own copy is not yet persisted.
    expect(leader.status().commit).toBe(1);
    leader.advance(rd);
    expect(leader.status().commit).toBe(2);
  });

  it('with unsafe.ackBeforePersist the leader commits before persisting', () => {
    const h = new Harness([1, 2, 3], { unsafe: { ackBeforePersist: true } });
    h.elect(1);
    h.crash(3);
    const leader = h.core(1);
    leader.propose(enc('x'));
    const rd = leader.ready();
    for (const m of rd.messagesNow) h.deliver(m);
    h.node(2).handleReady(h.queue);
    for (const m of h.queue.filter((m) => m.to === 1)) h.deliver(m);
    h.queue = [];
    expect(leader.status().commit).toBe(2);
    leader.advance(rd);
  });

  it('append acks are released only after persistence', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.core(1).propose(enc('y'));
    h.node(1).handleReady(h.queue);
    const append = h.queue.find((m) => m.to === 2 && m.type === 'append')!;
    h.queue = [];
    h.deliver(append);
    const rd = h.core(2).ready();
    expect(rd.entries.length).toBe(1);
    expect(rd.messagesNow.filter((m) => m.type === 'appendResp')).toEqual([]);
    expect(rd.messagesAfterPersist.map((m) => m.type)).toEqual(['appendResp']);
    h.core(2).advance(rd);
  });

  it('repairs a divergent follower log (conflicting uncommitted suffix is overwritten)', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.isolate(1);
    for (let i = 0; i < 5; i++) h.core(1).propose(enc(`lost${i}`));
    h.stabilize();
    h.elect(2);
    h.propose(2, 'kept');
    h.heal();
    h.tickAll(3);
    expect(h.leaders()).toEqual([2]);
    const logs = [1, 2, 3].map((id) => h.node(id).log.map((e) => `${e.index}:${e.term}`));
    expect(logs[0]).toEqual(logs[1]);
    expect(logs[2]).toEqual(logs[1]);
    for (const id of [1, 2, 3]) expect(h.node(id).sm).toEqual(['kept']);
  });

  it('fast back-off by term: a long conflicting suffix is skipped in few round trips', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.isolate(1);
    for (let i = 0; i < 50; i++) h.core(1).propose(enc(`lost${i}`));
    h.stabilize();
    h.elect(2);
    for (let i = 0; i < 50; i++) h.core(2).propose(enc(`new${i}`));
    h.stabilize();
    // 3 takes over with next = its last index + 1 for node 1, so it must find the match point by probing.
    h.elect(3);
    h.heal();
    h.delivered = [];
    h.tickAll(2);
    const rejects = h.delivered.filter((m) => m.type === 'appendResp' && m.from === 1 && m.reject);
    expect(rejects.length).toBeGreaterThan(0);
    expect(rejects.length).toBeLessThanOrEqual(2);
    expect(h.node(1).sm.length).toBe(50);
    expect(h.node(1).log.map((e) => e.term)).toEqual(h.node(3).log.map((e) => e.term));
  });

  it('bounded in-flight window: at most inflightMessagesMax appends outstanding per follower', () => {
    const h = new Harness([1, 2, 3], { inflightMessagesMax: 2, appendBytesMax: 1 });
    h.elect(1);
    h.node(2).holdReady = true; // 2 receives but never acks
    h.delivered = [];
    for (let i = 0; i < 6; i++) h.core(1).propose(enc(`v${i}`));
    h.stabilize();
    const toTwo = h.delivered.filter(
      (m): m is Message & { type: 'append' } => m.type === 'append' && m.to === 2 && m.entries.length > 0,
    );
    expect(toTwo.length).toBe(2);
    expect(h.core(1).status().progress!.get(2)).toMatchObject({ state: 'replicate', inflight: 2 });
    // 3 acks everything, so commits go on with a quorum of {1, 3}.
    expect(h.core(1).status().commit).toBe(7);
    h.node(2).holdReady = false;
    h.tickAll(3);
    expect(h.node(2).sm).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5']);
  });

  it('a follower that lost messages is repaired through probe state', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.dropIf = (m) => m.to === 3 && m.type === 'append';
    h.propose(1, 'a');
    h.propose(1, 'b');
    h.dropIf = null;
    h.propose(1, 'c');
    h.tickAll(2);
    expect(h.node(3).sm).toEqual(['a', 'b', 'c']);
  });

  it('reportUnreachable moves a replicating follower back to probe', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.propose(1, 'a');
    expect(h.core(1).status().progress!.get(2)!.state).toBe('replicate');
    h.core(1).reportUnreachable(2);
    expect(h.core(1).status().progress!.get(2)!.state).toBe('probe');
  });

  it('a follower commits no further than the leader told it and never past its own log', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.isolate(3);
    h.propose(1, 'a');
    h.heal();
    // A heartbeat carries min(match, commit): 3 has match 1 so it must not commit 2 before getting it.
    h.tickAll(1);
    expect(h.core(3).status().commit).toBe(2);
    expect(h.node(3).sm).toEqual(['a']);
  });
});

describe('proposals', () => {
  it('are dropped with noLeader / notLeader (with a leader hint)', () => {
    const h = new Harness([1, 2, 3]);
    expect(h.core(1).propose(enc('x'))).toEqual({ ok: false, reason: 'noLeader', leader: 0 });
    h.elect(1);
    expect(h.core(2).propose(enc('x'))).toEqual({ ok: false, reason: 'notLeader', leader: 1 });
  });

  it('are dropped with tooLarge past uncommittedBytesMax, and accepted again once applied', () => {
    const h = new Harness([1, 2, 3], { uncommittedBytesMax: 10 });
    h.elect(1);
    h.isolate(1);
    const leader = h.core(1);
    expect(leader.propose(new Uint8Array(8)).ok).toBe(true);
    expect(leader.propose(new Uint8Array(8))).toEqual({ ok: false, reason: 'tooLarge', leader: 1 });
    h.heal();
    h.tickAll(2);
    expect(leader.propose(new Uint8Array(8)).ok).toBe(true);
  });

  it('a single proposal larger than the limit is accepted when nothing is uncommitted', () => {
    const h = new Harness([1], { uncommittedBytesMax: 10 });
    h.elect(1);
    expect(h.core(1).propose(new Uint8Array(100)).ok).toBe(true);
  });
});

describe('CheckQuorum', () => {
  it('a leader that does not hear from a quorum within an election timeout steps down', () => {
    const h = new Harness([1, 2, 3], { checkQuorum: true });
    h.elect(1);
    h.isolate(1);
    for (let i = 0; i < 9; i++) h.tickAll(1);
    expect(h.core(1).status().role).toBe('leader');
    for (let i = 0; i < 11; i++) h.tickAll(1);
    expect(h.core(1).status().role).not.toBe('leader');
  });

  it('a leader with a quorum stays leader', () => {
    const h = new Harness([1, 2, 3], { checkQuorum: true });
    h.elect(1);
    h.crash(3);
    for (let i = 0; i < 50; i++) h.tickAll(1);
    expect(h.core(1).status().role).toBe('leader');
  });

  it('followers in lease ignore vote requests from a disruptive node; a transfer vote gets through', () => {
    const h = new Harness([1, 2, 3], { checkQuorum: true });
    h.elect(1);
    h.tickAll(2);
    const vote: Message = { type: 'vote', from: 3, to: 2, term: 5, lastLogIndex: 100, lastLogTerm: 5, transfer: false };
    expect(h.core(2).step(vote)).toEqual({ ok: false, reason: 'ignored' });
    expect(h.core(2).status().term).toBe(1);
    expect(h.core(2).step({ ...vote, transfer: true })).toEqual({ ok: true });
    expect(h.core(2).status()).toMatchObject({ term: 5, vote: 3 });
  });
});
