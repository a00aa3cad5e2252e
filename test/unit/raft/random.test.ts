/**
 * Randomized fault schedules against the core with independent checks (a small cousin of test/sim/):
 * drops, duplicates, reordering, partitions, crashes/restarts, compaction, transfers and membership
 * changes, then a heal-and-converge liveness phase. Each failure prints its seed; replay one with
 *   RAFT_SEED=<seed> npx vitest run test/unit/raft/random.test.ts
 * and run a wider range with RAFT_SEEDS=<count> RAFT_SEED_FROM=<first> (RAFT_DEBUG=1 prints traces).
 */
import { describe, expect, it } from 'vitest';
import { Random } from '../../../src/base';
import type { Entry, Message } from '../../../src/raft';
import { Harness, dec, enc } from './harness';

interface Options {
  unsafe?: { commitOldTermByCount?: boolean; ackBeforePersist?: boolean };
  steps?: number;
}

function runSeed(seed: number, opts: Options = {}): void {
  const rnd = new Random(seed);
  const n = rnd.pick([3, 5]);
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const preVote = rnd.chance(0.5);
  const checkQuorum = rnd.chance(0.5);
  const h = new Harness(ids, {
    seed,
    preVote,
    checkQuorum,
    electionTicks: 10,
    inflightMessagesMax: rnd.int(1, 8),
    appendBytesMax: rnd.int(1, 64),
    unsafe: opts.unsafe,
  });
  const dropP = rnd.pick([0, 0.05, 0.2]);
  const dupP = rnd.pick([0, 0.05]);
  const leaderOfTerm = new Map<number, number>();
  const appliedAt = new Map<number, string>();
  let nextValue = 0;
  const pendingReads = new Map<number, number>(); // context -> highest applied index anywhere at issue
  let readCtx = 1;

  const checkedApplied = new Map<number, number>();
  const describeEntry = (e: Entry) => `${e.term}:${e.kind}:${e.kind === 'normal' ? dec(e.data) : ''}`;
  const check = () => {
    for (const node of h.nodes.values()) {
      const st = node.core.status();
      if (st.role === 'leader') {
        const prev = leaderOfTerm.get(st.term);
        if (prev !== undefined && prev !== node.id)
          throw new Error(`two leaders in term ${st.term}: ${prev} and ${node.id}`);
        leaderOfTerm.set(st.term, node.id);
      }
      const from = checkedApplied.get(node.id) ?? 0;
      for (let i = from; i < node.appliedEntries.length; i++) {
        const e = node.appliedEntries[i] as Entry;
        const d = describeEntry(e);
        const seen = appliedAt.get(e.index);
        if (seen === undefined) appliedAt.set(e.index, d);
        else if (seen !== d) throw new Error(`divergent apply at ${e.index}: ${seen} vs ${d} (node ${node.id})`);
      }
      checkedApplied.set(node.id, node.appliedEntries.length);
      for (const rs of node.readStates) {
        const floor = pendingReads.get(rs.context);
        if (floor !== undefined && rs.index < floor)
          throw new Error(`stale read ${rs.context}: index ${rs.index} < ${floor}`);
      }
      node.readStates.length = 0;
    }
  };
  const maxApplied = () => Math.max(...[...h.nodes.values()].map((x) => x.appliedIndex));

  const steps = opts.steps ?? 2000;
  const anyLeader = () => {
    for (const x of h.nodes.values()) if (x.up && x.core.status().role === 'leader') return x;
    return null;
  };
  for (let step = 0; step < steps; step++) {
    const r = rnd.float();
    const id = rnd.pick(ids);
    const node = h.node(id);
    if (r < 0.15) {
      if (node.up) node.core.tick();
    } else if (r < 0.6) {
      // Deliver a random queued message (reordering), maybe drop or duplicate it.
      if (h.queue.length > 0) {
        const i = rnd.int(0, h.queue.length - 1);
        const m = h.queue[i] as Message;
        if (rnd.chance(dupP)) h.queue.push(m);
        else h.queue.splice(i, 1);
        if (!rnd.chance(dropP)) h.deliver(m);
        else if (rnd.chance(0.5)) h.drop(m); // else: lost without a report (the core's timeout recovers)
      }
    } else if (r < 0.8) {
      if (node.up) node.handleReady(h.queue);
    } else if (r < 0.9) {
      anyLeader()?.core.propose(enc(`v${nextValue++}`));
    } else if (r < 0.93) {
      const l = anyLeader();
      if (l) {
        const ctx = readCtx++;
        pendingReads.set(ctx, maxApplied());
        l.core.readIndex(ctx);
      }
    } else if (r < 0.935) {
      if (node.up) h.crash(id);
      else h.restart(id);
    } else if (r < 0.94) {
      if (rnd.chance(0.6)) h.heal();
      else h.isolate(id);
    } else if (r < 0.95) {
      // Restart a crashed node sooner than a crash happens, so the cluster is mostly available.
      for (const x of h.nodes.values()) if (!x.up) h.restart(x.id);
    } else if (r < 0.96) {
      const st = node.core.status();
      if (node.up && st.applied > st.firstIndex + 3) node.compact(st.applied - 2);
    } else if (r < 0.965) {
      anyLeader()?.core.transferLeader(rnd.pick(ids));
    } else if (r < 0.97) {
      const l = anyLeader();
      if (l) {
        const target = rnd.pick(ids);
        const cfg = l.core.status().config;
        const change = cfg.voters.includes(target)
          ? rnd.pick(['removeNode', 'addLearner'] as const)
          : rnd.pick(['addVoter', 'addLearner'] as const);
        l.core.proposeMembership({ type: change, node: target });
      }
    } else {
      for (const x of h.nodes.values()) if (x.up) x.handleReady(h.queue);
    }
    if (h.queue.length > 2000) h.queue.splice(0, h.queue.length - 2000);
    check();
    if (process.env['RAFT_DEBUG'] && step % 200 === 0) {
      console.log(
        `  ${step} q${h.queue.length} ` +
          [...h.nodes.values()]
            .map((x) => `${x.id}:${x.up ? 'up' : 'down'}:${x.core.status().role}:t${x.core.status().term}`)
            .join(' ') +
          ` cuts ${h.cutCount()}`,
      );
    }
  }

  if (process.env['RAFT_DEBUG']) {
    console.log(
      `seed ${seed} chaos end: queue ${h.queue.length} drop ${dropP} ` +
        [...h.nodes.values()]
          .map(
            (x) =>
              `${x.id}:${x.up ? 'up' : 'down'}:${x.core.status().role}:t${x.core.status().term}:c${x.core.status().commit}`,
          )
          .join(' '),
    );
  }
  // Liveness: heal, restart everyone, re-add every node as voter, and require convergence.
  h.heal();
  h.dropIf = null;
  for (const x of h.nodes.values()) if (!x.up) h.restart(x.id);
  let leader = 0;
  for (let i = 0; i < 400; i++) {
    h.tickAll(1);
    check();
    const ls = h.leaders();
    if (ls.length === 1) {
      leader = ls[0] as number;
      const core = h.core(leader);
      const cfg = core.status().config;
      const missing = ids.find((x) => !cfg.voters.includes(x));
      if (missing === undefined) break;
      core.proposeMembership({ type: 'addVoter', node: missing });
    }
  }
  if (leader === 0 && process.env['RAFT_DEBUG']) {
    for (const x of h.nodes.values()) {
      const st = x.core.status();
      console.log(
        `  node ${x.id} ${st.role} t${st.term} vote ${st.vote} leader ${st.leader} commit ${st.commit} applied ${x.appliedIndex} last ${st.lastIndex} first ${st.firstIndex} cfg ${JSON.stringify(st.config)}`,
      );
      if (st.progress) for (const [p, pr] of st.progress) console.log(`     ${p} ${JSON.stringify(pr)}`);
    }
  }
  expect(leader, 'a leader after healing').not.toBe(0);
  // A proposal can be lost when leadership changes; retry until one commits (bounded).
  let committed = false;
  for (let attempt = 0; attempt < 10 && !committed; attempt++) {
    const ls = h.leaders();
    if (ls.length === 1) {
      leader = ls[0] as number;
      const res = h.core(leader).propose(enc('final'));
      if (res.ok) {
        for (let i = 0; i < 50 && !committed; i++) {
          h.tickAll(1);
          check();
          const st = h.core(leader).status();
          committed = [...h.nodes.values()].every((x) => x.sm.at(-1) === 'final' && x.appliedIndex === st.commit);
        }
      }
    }
    if (!committed) h.tickAll(5);
  }
  if (!committed && process.env['RAFT_DEBUG']) {
    for (const x of h.nodes.values()) {
      const st = x.core.status();
      console.log(
        `  node ${x.id} ${st.role} t${st.term} leader ${st.leader} commit ${st.commit} applied ${x.appliedIndex} last ${st.lastIndex} first ${st.firstIndex} cfg ${JSON.stringify(st.config)} sm.last ${x.sm.at(-1)}`,
      );
      if (st.progress) for (const [p, pr] of st.progress) console.log(`     ${p} ${JSON.stringify(pr)}`);
    }
  }
  expect(committed, 'the final proposal commits and every node applies it').toBe(true);
  if (process.env['RAFT_DEBUG'])
    console.log(
      `seed ${seed}: n=${n} terms with leaders ${leaderOfTerm.size}, applied ${appliedAt.size}, reads ${readCtx - 1}`,
    );
}

const seedCount = Number(process.env['RAFT_SEEDS'] ?? 100);
const seedFrom = Number(process.env['RAFT_SEED_FROM'] ?? 1);
const fixedSeeds = Array.from({ length: seedCount }, (_, i) => seedFrom + i);
const envSeed = process.env['RAFT_SEED'];

describe('randomized fault schedules', () => {
  const seeds = envSeed ? [Number(envSeed)] : fixedSeeds;
  it(`safety and liveness over ${seeds.length} seeds`, () => {
    for (const seed of seeds) {
      try {
        runSeed(seed);
      } catch (err) {
        throw new Error(
          `seed ${seed} failed (replay: RAFT_SEED=${seed} npx vitest run test/unit/raft/random.test.ts): ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
  });
});
