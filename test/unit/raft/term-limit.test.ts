/**
 * Terms never pass TERM_MAX (src/raft/limits.ts): peers refuse such messages (invalid-messages.test.ts)
 * and our own code never produces one: a node at TERM_MAX does not campaign (a safety net; a correct
 * cluster takes 2^48 elections to get there).
 */
import { describe, expect, it } from 'vitest';
import { Random } from '../../../src/base';
import { RaftCore, TERM_MAX } from '../../../src/raft';
import { Harness } from './harness';
import { VOTERS, cluster } from './forged-cluster';

describe('the term stays below TERM_MAX', () => {
  function coreAtTerm(term: number): RaftCore {
    const config = { ...new Harness([1]).configFor(1), preVote: false };
    return new RaftCore(
      config,
      { hardState: { term, vote: 0, commit: 0 }, snapshot: null, entries: [], initialConfig: VOTERS, applied: 0 },
      new Random(7),
    );
  }

  it('a node at TERM_MAX refuses to campaign (a safety net) and says so in its status', () => {
    const core = coreAtTerm(TERM_MAX);
    expect(core.status().termExhausted).toBe(true);
    for (let i = 0; i < 100; i++) core.tick();
    const st = core.status();
    expect([st.role, st.term, st.vote]).toEqual(['follower', TERM_MAX, 0]);
    expect(core.hasReady()).toBe(false);
    // Nor on a TimeoutNow.
    expect(core.step({ type: 'timeoutNow', from: 2, to: 1, term: TERM_MAX })).toEqual({ ok: true });
    expect(core.status().role).toBe('follower');
  });

  it('a node one term below still campaigns, into TERM_MAX, and messages at TERM_MAX are accepted', () => {
    const core = coreAtTerm(TERM_MAX - 1);
    expect(core.status().termExhausted).toBe(false);
    for (let i = 0; i < 100 && core.status().role === 'follower'; i++) core.tick();
    expect([core.status().role, core.status().term]).toEqual(['candidate', TERM_MAX]);
    expect(core.step({ type: 'voteResp', from: 2, to: 1, term: TERM_MAX, reject: false })).toEqual({ ok: true });
  });

  it('after the forged 2^53-2 vote the cluster still elects and commits', () => {
    const h = cluster();
    for (const id of [2, 3]) {
      const out = h.core(id).step({
        type: 'vote',
        from: id === 2 ? 3 : 2,
        to: id,
        term: 2 ** 53 - 2,
        lastLogIndex: 9,
        lastLogTerm: 3,
        transfer: false,
      });
      expect(out).toMatchObject({ ok: false, reason: 'invalidMessage' });
    }
    h.crash(1);
    h.elect(2);
    expect(h.core(2).status().term).toBe(4);
    expect(h.propose(2, 'after').ok).toBe(true);
    expect(h.node(3).sm).toEqual(['a', 'b', 'c', 'after']);
  });
});
