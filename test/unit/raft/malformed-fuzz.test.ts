/**
 * Property: a 3-node cluster fed thousands of random malformed messages (each a legit message of the
 * run, bent to break one rule of src/raft/validate-message.ts) between its normal traffic never throws,
 * refuses every one of them as invalidMessage without any effect, and still elects and commits after.
 * Old legit messages are replayed too (duplicates, reordering): the harness fails if one is refused.
 * Seeds are printed; replay one with RAFT_FUZZ_SEED=<seed> npx vitest run test/unit/raft/malformed-fuzz.test.ts
 */
import { describe, expect, it } from 'vitest';
import { Random } from '../../../src/base';
import { APPEND_ENTRIES_MAX, INDEX_MAX, TERM_MAX } from '../../../src/raft';
import type { Entry, Message, RaftCore } from '../../../src/raft';
import { Harness, dec, enc } from './harness';

const IDS = [1, 2, 3];
type Mutable = Record<string, unknown>;

/** A copy of `m` (entries and snapshot meta copied one level) that the mutators may change freely. */
function copy(m: Message): Mutable {
  const c: Mutable = { ...m };
  if (m.type === 'append') c['entries'] = m.entries.map((e) => ({ ...e }));
  if (m.type === 'snapshot')
    c['snapshot'] = { meta: { ...m.snapshot.meta, config: { ...m.snapshot.meta.config } }, data: m.snapshot.data };
  return c;
}

const badInts = (rnd: Random, max: number): unknown =>
  rnd.pick<unknown>([
    max + 1 + rnd.int(0, 1000),
    2 ** 53 - 2,
    Number.MAX_SAFE_INTEGER,
    2 ** 60,
    -1 - rnd.int(0, 5),
    1.5,
    Number.NaN,
    Infinity,
    '7',
    null,
  ]);

/**
 * Bends a legit message addressed to `core` so that it breaks a rule that holds whatever the receiver's
 * state (or, for acks, a rule the receiver's current state makes hold). Returns null when no mutation fits.
 */
function malform(rnd: Random, base: Message, core: RaftCore): Mutable | null {
  const m = copy(base);
  const self = core.status();
  const choice = rnd.int(0, 9);
  if (choice === 0) m['term'] = badInts(rnd, TERM_MAX);
  else if (choice === 1) m['to'] = rnd.pick([0, -3, 2 ** 32, ...IDS.filter((x) => x !== self.id)]);
  else if (choice === 2) m['from'] = rnd.pick([self.id, 0, 2 ** 32, 0.5, -1]);
  else if (choice === 3) m['type'] = rnd.pick(['install', 'appendResponse', '', 42]);
  else {
    const bent = malformFields(rnd, m, base, self);
    if (!bent) return null;
  }
  return m;
}

function malformFields(rnd: Random, m: Mutable, base: Message, self: ReturnType<RaftCore['status']>): boolean {
  const term = base.term;
  switch (base.type) {
    case 'preVote':
    case 'vote':
      switch (rnd.int(0, 3)) {
        case 0:
          m['lastLogIndex'] = badInts(rnd, INDEX_MAX);
          return true;
        case 1:
          m['lastLogTerm'] = badInts(rnd, TERM_MAX);
          return true;
        case 2:
          m['lastLogTerm'] = term + 1 + rnd.int(0, 10);
          return true;
        default:
          if (base.type !== 'vote') return false;
          m['transfer'] = rnd.pick([0, 1, 'yes', null]);
          return true;
      }
    case 'preVoteResp':
    case 'voteResp':
      m['reject'] = rnd.pick([0, 1, 'no', null]);
      return true;
    case 'append':
      return malformAppend(rnd, m, base);
    case 'appendResp': {
      const r = rnd.int(0, 4);
      if (r === 0) m['index'] = badInts(rnd, INDEX_MAX);
      else if (r === 1) m['rejectHint'] = badInts(rnd, INDEX_MAX);
      else if (r === 2) m['hintTerm'] = rnd.chance(0.5) ? badInts(rnd, TERM_MAX) : term + 1 + rnd.int(0, 5);
      else if (r === 3) m['reject'] = rnd.pick([0, 'true']);
      else {
        // An ack beyond the leader's log: only a leader in the message's term checks it against its log.
        if (self.role !== 'leader' || self.term !== term) return false;
        m['index'] = self.lastIndex + 1 + rnd.int(0, 50);
        if (rnd.chance(0.5)) {
          m['reject'] = true;
          m['index'] = Math.min(self.lastIndex, base.index);
          m['rejectHint'] = self.lastIndex + 1 + rnd.int(0, 50);
        }
      }
      return true;
    }
    case 'heartbeat':
      if (rnd.chance(0.5)) m['commit'] = badInts(rnd, INDEX_MAX);
      else m['context'] = rnd.pick([-1, 0.5, 2 ** 53, 'x']);
      return true;
    case 'heartbeatResp':
      if (rnd.chance(0.5)) m['context'] = rnd.pick([-1, 0.5, 2 ** 53, 'x']);
      else if (self.role === 'leader' && self.term === term)
        m['context'] = 2 ** 40 + rnd.int(0, 100); // a round never opened
      else return false;
      return true;
    case 'snapshot': {
      const meta = (m['snapshot'] as { meta: Mutable }).meta;
      const config = meta['config'] as Mutable;
      const voters = config['voters'] as number[];
      switch (rnd.int(0, 6)) {
        case 0:
          meta['index'] = rnd.pick<unknown>([0, ...[badInts(rnd, INDEX_MAX)]]);
          break;
        case 1:
          meta['term'] = rnd.pick<unknown>([0, term + 1 + rnd.int(0, 5), badInts(rnd, TERM_MAX)]);
          break;
        case 2:
          config['voters'] = [];
          break;
        case 3:
          config['learners'] = [voters[0]];
          break;
        case 4:
          config['voters'] = [...voters, voters[0]];
          break;
        case 5:
          config['voters'] = [...voters, rnd.pick([0, -2, 2 ** 32, 1.25])];
          break;
        default:
          (m['snapshot'] as Mutable)['data'] = rnd.pick(['bytes', null, [1, 2]]);
      }
      return true;
    }
    case 'timeoutNow':
      return false;
  }
}

function malformAppend(rnd: Random, m: Mutable, base: Message & { type: 'append' }): boolean {
  const entries = m['entries'] as Mutable[];
  const n = entries.length;
  const term = base.term;
  const r = rnd.int(0, 9);
  if (r === 0) m['prevLogIndex'] = badInts(rnd, INDEX_MAX);
  else if (r === 1) m['prevLogTerm'] = rnd.chance(0.5) ? badInts(rnd, TERM_MAX) : term + 1 + rnd.int(0, 5);
  else if (r === 2) m['commit'] = badInts(rnd, INDEX_MAX);
  else if (r === 3) {
    // A gap, a repeat or a step back in the indexes.
    if (n === 0) entries.push({ kind: 'empty', term, index: base.prevLogIndex + 2 + rnd.int(0, 3) });
    else {
      const e = rnd.pick(entries);
      e['index'] = (e['index'] as number) + rnd.pick([-2, -1, 1, 2, 1000]);
    }
  } else if (r === 4) {
    // An entry term above the message term.
    if (n === 0) entries.push({ kind: 'empty', term: term + 1, index: base.prevLogIndex + 1 });
    else rnd.pick(entries)['term'] = term + 1 + rnd.int(0, 3);
  } else if (r === 5) {
    // An entry term below its predecessor (or prevLogTerm), or 0.
    const floor = n === 0 ? base.prevLogTerm : ((entries[n - 1] as Mutable)['term'] as number);
    entries.push({ kind: 'empty', term: floor >= 1 ? rnd.int(0, floor - 1) : 0, index: base.prevLogIndex + n + 1 });
  } else if (r === 6) {
    const e = n === 0 ? null : rnd.pick(entries);
    const bad: Mutable = { term: base.term, index: base.prevLogIndex + n + 1 };
    if (e) Object.assign(bad, { term: e['term'], index: e['index'] });
    switch (rnd.int(0, 3)) {
      case 0:
        Object.assign(bad, { kind: 'snapshot' });
        break;
      case 1:
        Object.assign(bad, { kind: 'normal', data: 'text' });
        break;
      case 2:
        Object.assign(bad, {
          kind: 'config',
          change: { type: rnd.pick(['addWitness', 'addVoter']), node: rnd.pick([0, 2 ** 32, -1]) },
        });
        break;
      default:
        Object.assign(bad, {
          kind: 'config',
          change: { type: 'addVoter', node: 4 },
          config: { voters: [], learners: [4], votersOutgoing: [] },
        });
    }
    if (e) entries[entries.indexOf(e)] = bad;
    else entries.push(bad);
  } else if (r === 7) {
    const first = base.prevLogIndex + 1;
    const t = Math.max(base.prevLogTerm, 1) <= term ? Math.max(base.prevLogTerm, 1) : term;
    m['entries'] = Array.from({ length: APPEND_ENTRIES_MAX + 1 }, (_, i) => ({
      kind: 'empty',
      term: t,
      index: first + i,
    }));
  } else if (r === 8) {
    m['entries'] = rnd.pick([null, 'entries', {}]);
  } else {
    // Contiguous entries of the message term from a prevLogIndex near INDEX_MAX, running past it.
    const p = INDEX_MAX - rnd.int(0, n);
    m['prevLogIndex'] = p;
    entries.push({ kind: 'empty', term, index: 0 });
    entries.forEach((e, i) => Object.assign(e, { index: p + 1 + i, term }));
  }
  return true;
}

function runSeed(seed: number, steps: number): { refused: number; replayed: number } {
  const rnd = new Random(seed);
  const h = new Harness(IDS, {
    seed,
    preVote: rnd.chance(0.5),
    checkQuorum: rnd.chance(0.5),
    inflightMessagesMax: rnd.int(1, 8),
    appendBytesMax: rnd.int(1, 64),
  });
  const history: Message[] = [];
  let refused = 0;
  let replayed = 0;
  let value = 0;
  const leader = (): number | undefined => h.leaders()[0];
  for (let step = 0; step < steps; step++) {
    const r = rnd.float();
    const id = rnd.pick(IDS);
    if (r < 0.1) {
      h.node(id).core.tick();
    } else if (r < 0.35) {
      if (h.queue.length > 0) {
        const i = rnd.int(0, h.queue.length - 1);
        const m = h.queue[i] as Message;
        h.queue.splice(i, 1);
        if (!rnd.chance(0.05)) h.deliver(m);
        history.push(m);
        if (history.length > 500) history.splice(0, 100);
      }
    } else if (r < 0.45) {
      h.node(id).handleReady(h.queue);
    } else if (r < 0.5) {
      const l = leader();
      if (l !== undefined) h.core(l).propose(enc(`v${value++}`));
    } else if (r < 0.55) {
      // Replay an old legit message (duplicate, reordered, stale): must never be refused as invalid.
      if (history.length > 0) {
        h.deliver(rnd.pick(history));
        replayed++;
      }
    } else if (history.length > 0) {
      const base = rnd.pick(history);
      const core = h.core(base.to);
      const forged = malform(rnd, base, core);
      if (forged === null) continue;
      const before = core.status();
      const readyBefore = core.hasReady();
      const outcome = core.step(forged as unknown as Message);
      if (outcome.ok || outcome.reason !== 'invalidMessage') {
        throw new Error(
          `seed ${seed} step ${step}: a malformed message was not refused (${JSON.stringify(outcome)}): ${JSON.stringify(forged).slice(0, 400)}`,
        );
      }
      expect(core.status()).toEqual(before);
      expect(core.hasReady()).toBe(readyBefore);
      refused++;
    }
  }
  // Afterwards the cluster elects, commits and agrees.
  h.dropIf = null;
  for (let i = 0; i < 300 && h.leaders().length !== 1; i++) h.tickAll(1);
  const l = leader();
  expect(l, `seed ${seed}: a leader after the forgeries`).toBeDefined();
  expect(h.propose(l as number, 'final').ok).toBe(true);
  h.tickAll(3);
  const logs = IDS.map((x) =>
    h.node(x).appliedEntries.map((e: Entry) => `${e.index}:${e.term}:${e.kind === 'normal' ? dec(e.data) : e.kind}`),
  );
  for (const log of logs) expect(log[log.length - 1]).toMatch(/:final$/);
  for (const log of logs) expect(log).toEqual((logs[0] as string[]).slice(0, log.length));
  return { refused, replayed };
}

describe('random malformed messages', () => {
  const fixed = process.env['RAFT_FUZZ_SEED'];
  const seeds = fixed ? [Number(fixed)] : [1, 2, 3, Math.floor(Math.random() * 2 ** 31)];
  it(`are refused without effect and the cluster still elects and commits (seeds ${seeds.join(', ')})`, () => {
    console.log(`malformed-fuzz seeds: ${seeds.join(', ')}`);
    let refused = 0;
    for (const seed of seeds) refused += runSeed(seed, 6000).refused;
    expect(refused).toBeGreaterThan(1500 * seeds.length);
  });
});
