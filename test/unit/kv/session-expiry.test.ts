/**
 * Time-based session expiry of the state machine: time comes only from the log (each command's atMs),
 * every replica evicts the same sessions, and lastSeenMs survives restarts and snapshots.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Random } from '../../../src/base';
import {
  appliedKey,
  decodeCommand,
  decodeSessionRecord,
  encodeIndex,
  encodeRecord,
  sessionKey,
  sessionRange,
} from '../../../src/codec';
import type { Command, CommandResult, SessionTag } from '../../../src/codec';
import { SESSION_TTL_MS_DEFAULT, StateMachine } from '../../../src/kv';
import type { SnapshotReader } from '../../../src/kv';
import type { NodeStore } from '../../../src/storage';
import { Log, Stores, b, cas, del, put, whole } from './helpers';

const stores = new Stores();
afterEach(async () => {
  vi.restoreAllMocks();
  await stores.cleanup();
});

const MIN = 60_000;
const TTL = 60 * MIN;
/** Some leader's wall clock (ms since the epoch). */
const T0 = 1_700_000_000_000;
const sess = (clientId: string, seq: number): SessionTag => ({ clientId, seq });
/** The command as stamped by a leader at atMs. */
const at = (atMs: number, c: Command): Command => ({ ...c, atMs });
const str = (v: Buffer | null): string | null => (v === null ? null : v.toString());

async function open(store: NodeStore, sessionsMax = 100): Promise<StateMachine> {
  return StateMachine.open(store, 1, whole, { sessionsMax, sessionTtlMs: TTL });
}

/** Every stored session record of group 1, by client id. */
async function storedSessions(
  store: NodeStore,
): Promise<Record<string, { seq: number; lastIndex: number; lastSeenMs: number | null }>> {
  const out: Record<string, { seq: number; lastIndex: number; lastSeenMs: number | null }> = {};
  for await (const [key, value] of store.db.iterator({ ...sessionRange(1) })) {
    const r = decodeSessionRecord(value, 'test');
    out[key.toString('utf8', 16)] = { seq: r.seq, lastIndex: r.lastIndex, lastSeenMs: r.lastSeenMs ?? null };
  }
  return out;
}

async function dump(sm: StateMachine): Promise<Array<[string, string]>> {
  const page = await sm.scan(Buffer.alloc(0), null, 1_000_000, 1 << 30);
  return page.items.map((kv) => [kv.key.toString('latin1'), kv.value.toString('latin1')]);
}

async function transfer(reader: SnapshotReader, dst: StateMachine, id: string): Promise<void> {
  await dst.beginSnapshotStaging(id);
  for await (const chunk of reader) await dst.stageChunk(id, chunk);
  await dst.installStaged(id, {
    index: reader.applied,
    term: 1,
    config: { voters: [1], learners: [], votersOutgoing: [] },
  });
}

/**
 * A naive model of the specification (kv/session-table.ts header): clock = max(atMs, lastSeenMs of the most
 * recently used timed session); expire timed sessions with lastSeenMs < clock - ttl (untimed ones with the
 * first of them) before looking the command's session up; a use moves the session to the newest end;
 * then evict the least recently used (untimed first) beyond sessionsMax.
 */
class SessionModel {
  /** Oldest first; untimed (lastSeenMs null) always before timed. */
  list: Array<{ id: string; seq: number; lastSeenMs: number | null }> = [];
  /** Sessions that left by time. */
  expiredCount = 0;
  constructor(
    readonly max: number,
    readonly ttl: number,
  ) {}
  private newest(): number {
    const timed = this.list.filter((s) => s.lastSeenMs !== null);
    return timed.length === 0 ? 0 : (timed[timed.length - 1]?.lastSeenMs as number);
  }
  /** Returns whether the command is applied (not a remembered result or sessionExpired). */
  apply(c: Command): 'applied' | 'remembered' | 'sessionExpired' {
    const clock = Math.max(c.atMs ?? 0, this.newest());
    const expiring = this.list.filter((s) => s.lastSeenMs !== null && s.lastSeenMs < clock - this.ttl);
    if (expiring.length > 0) {
      const before = this.list.length;
      this.list = this.list.filter((s) => s.lastSeenMs !== null && !expiring.includes(s));
      this.expiredCount += before - this.list.length;
    }
    if (c.type === 'noop' || c.type === 'registerSession' || c.session === null) return 'applied';
    const { clientId, seq } = c.session;
    const known = this.list.find((s) => s.id === clientId);
    if (known !== undefined && seq < known.seq) return 'sessionExpired';
    const outcome = known !== undefined && seq === known.seq ? 'remembered' : 'applied';
    this.list = this.list.filter((s) => s.id !== clientId);
    this.list.push({ id: clientId, seq, lastSeenMs: clock === 0 ? null : clock });
    while (this.list.length > this.max) this.list.shift();
    return outcome;
  }
}

describe('session expiry by log time', () => {
  it.each([
    { sessionsMax: 100, seed: 424242 },
    { sessionsMax: 12, seed: 515151 },
  ])(
    'replicas applying the same entries (in any batches, with restarts or a snapshot) expire the same sessions (sessionsMax $sessionsMax)',
    async ({ sessionsMax, seed }) => {
      console.log(
        `session expiry seed ${seed}, sessionsMax ${sessionsMax} (replay: set this seed in the it.each table and rerun)`,
      );
      const rnd = new Random(seed);
      const log = new Log();
      const lastSeq = new Map<string, number>();
      let leaderClockMs = T0;
      for (let i = 0; i < 500; i++) {
        // Leaders' clocks: mostly forward by up to 6 min, sometimes a new leader up to 20 min behind.
        leaderClockMs += rnd.chance(0.05) ? -rnd.int(0, 20 * MIN) : rnd.int(0, 6 * MIN);
        const client = `client-${rnd.int(0, 24)}`;
        const prev = lastSeq.get(client) ?? 0;
        const seq = prev > 0 && rnd.chance(0.15) ? prev : prev + 1; // retries repeat the seq
        lastSeq.set(client, seq);
        const session = rnd.chance(0.8) ? sess(client, seq) : null;
        const k = `k${rnd.int(0, 15)}`;
        const cmd: Command = rnd.chance(0.5) ? put(k, `v${i}`, session) : cas(k, null, `n${i}`, session);
        const roll = rnd.int(0, 99);
        if (roll < 3)
          log.add(null); // empty leader entry: no time
        else if (roll < 6) log.add({ type: 'noop', atMs: leaderClockMs });
        else if (roll < 10)
          log.add(cmd); // an older version's command: no time
        else log.add(at(leaderClockMs, cmd));
      }

      // The specification, independently: which entries apply, and which sessions remain.
      const model = new SessionModel(sessionsMax, TTL);
      const expected: Array<[number, CommandResult]> = [];
      const data = new Map<string, string>();
      const lastResult = new Map<string, CommandResult>();
      /** Writes applied again because their session was forgotten (a retry, or an older seq). */
      let reapplied = 0;
      const highestSeq = new Map<string, number>();
      for (const e of log.entries) {
        if (e.kind !== 'normal') continue;
        const c = decodeCommand(e.data);
        if (c.type === 'registerSession') throw new Error('this model covers legacy commands only');
        const outcome = model.apply(c);
        let result: CommandResult;
        if (c.type === 'noop') result = { type: 'noop' };
        else if (outcome === 'sessionExpired') result = { type: 'sessionExpired' };
        else if (outcome === 'remembered') result = lastResult.get((c.session as SessionTag).clientId) as CommandResult;
        else if (c.type === 'put') {
          data.set(c.key.toString(), c.value.toString());
          result = { type: 'put' };
        } else if (c.type === 'cas') {
          const current = data.get(c.key.toString());
          if (current === undefined) data.set(c.key.toString(), (c.value as Buffer).toString());
          result = {
            type: 'cas',
            succeeded: current === undefined,
            current: current === undefined ? null : b(current),
          };
        } else throw new Error(`unexpected command ${c.type}`);
        expected.push([e.index, result]);
        if (c.type !== 'noop' && c.session !== null && outcome !== 'sessionExpired') {
          lastResult.set(c.session.clientId, result);
          if (outcome === 'applied' && c.session.seq <= (highestSeq.get(c.session.clientId) ?? 0)) reapplied++;
          highestSeq.set(c.session.clientId, Math.max(c.session.seq, highestSeq.get(c.session.clientId) ?? 0));
        }
      }
      console.log(`model: ${model.expiredCount} expired by time, ${reapplied} re-applied, ${model.list.length} remain`);
      expect(model.expiredCount).toBeGreaterThan(10);
      expect(reapplied).toBeGreaterThan(0);

      type Run = {
        results: Array<[number, CommandResult]>;
        data: Array<[string, string]>;
        ids: string[];
        clockMs: number;
        stored: unknown;
      };
      const finish = async (
        store: NodeStore,
        sm: StateMachine,
        results: Array<[number, CommandResult]>,
      ): Promise<Run> => ({
        results,
        data: await dump(sm),
        ids: sm.sessionClientIds(),
        clockMs: sm.logClockMs,
        stored: await storedSessions(store),
      });
      const runs: Run[] = [];
      for (const split of [500, 7, 1]) {
        const s = await stores.make();
        let sm = await open(s.store, sessionsMax);
        const results: Array<[number, CommandResult]> = [];
        for (let i = 0; i < log.entries.length; i += split) {
          results.push(...(await sm.apply(log.entries.slice(i, i + split))));
          if (split === 7) sm = await open(await stores.reopen(s), sessionsMax); // restart between batches
        }
        runs.push(await finish(s.store, sm, results));
      }
      // A replica that catches up by a snapshot taken half-way, then applies the rest.
      const src = await stores.make();
      const smSrc = await open(src.store, sessionsMax);
      const firstHalf = [...(await smSrc.apply(log.entries.slice(0, 250)))];
      const dstStore = await stores.make();
      const smDst = await open(dstStore.store, sessionsMax);
      await transfer(smSrc.openSnapshot({ chunkBytes: 4096 }), smDst, 'snap-1');
      expect(smDst.logClockMs).toBe(smSrc.logClockMs);
      runs.push(await finish(dstStore.store, smDst, [...firstHalf, ...(await smDst.apply(log.entries.slice(250)))]));

      for (const r of runs.slice(1)) expect(r).toEqual(runs[0]);
      const run = runs[0] as Run;
      expect(run.ids).toEqual(model.list.map((s) => s.id));
      // Results and data agree with the model: a write is applied again exactly when its session was forgotten.
      expect(run.results).toEqual(expected);
      expect(run.data).toEqual([...data.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
      if (sessionsMax >= 25) expect(run.ids.length).toBeLessThan(25); // only time could have evicted
      const stored = run.stored as Record<string, { lastSeenMs: number | null }>;
      for (const id of run.ids) expect(stored[id]?.lastSeenMs ?? 0).toBeGreaterThanOrEqual(run.clockMs - TTL);
    },
  );

  it('uses the time in the log, never the local clock; an expired session is then an unknown one', async () => {
    // The local clock is far past the log's time: nothing may expire because of it.
    const nowSpy = vi.spyOn(Date, 'now').mockReturnValue(T0 + 100 * TTL);
    const { store } = await stores.make();
    const sm = await open(store);
    const log = new Log();
    log.add(at(T0, put('k', '1')));
    const first = log.add(at(T0, cas('k', '1', '2', sess('A', 3)))).index;
    log.add(at(T0 + 59 * MIN, put('other', 'x')));
    const retryInTime = log.add(at(T0 + 59 * MIN, cas('k', '1', '2', sess('A', 3)))).index;
    const olderInTime = log.add(at(T0 + 59 * MIN, put('k', 'old', sess('A', 2)))).index;
    let r = await sm.apply(log.entries);
    expect(r.get(first)).toEqual({ type: 'cas', succeeded: true, current: b('1') });
    expect(r.get(retryInTime)).toEqual({ type: 'cas', succeeded: true, current: b('1') }); // remembered
    expect(r.get(olderInTime)).toEqual({ type: 'sessionExpired' });
    expect(sm.sessionClientIds()).toEqual(['A']);

    // A's last use was at T0 + 59 min; an hour and a bit later (log time) it is gone.
    const from = log.entries.length;
    log.add(at(T0 + 119 * MIN + 1, put('tick', 't')));
    const retryLate = log.add(at(T0 + 119 * MIN + 1, cas('k', '1', '2', sess('A', 3)))).index;
    const unknownLate = log.add(at(T0 + 119 * MIN + 1, put('k', 'old', sess('B', 2)))).index;
    r = await sm.apply(log.entries.slice(from));
    // Unknown-session semantics: applied and remembered, whatever the seq.
    expect(r.get(retryLate)).toEqual({ type: 'cas', succeeded: false, current: b('2') });
    expect(r.get(unknownLate)).toEqual({ type: 'put' });
    expect(str(await sm.get(b('k')))).toBe('old');
    expect(nowSpy).not.toHaveBeenCalled();
  });

  it('a leader clock that lags behind does not move the log clock back', async () => {
    const { store } = await stores.make();
    const sm = await open(store);
    const log = new Log();
    log.add(at(T0 + 10 * MIN, put('a', '1', sess('A', 1))));
    log.add(at(T0, put('b', '1', sess('B', 1)))); // a new leader whose clock is 10 min behind
    await sm.apply(log.entries);
    expect(sm.logClockMs).toBe(T0 + 10 * MIN);
    expect((await storedSessions(store)).B?.lastSeenMs).toBe(T0 + 10 * MIN);
    // The lagging leader's T0 + 70 min is past A's and B's last use by exactly one TTL: both stay.
    log.add(at(T0 + 70 * MIN, put('c', '1')));
    await sm.apply(log.entries.slice(2));
    expect(sm.sessionClientIds()).toEqual(['A', 'B']);
    log.add(at(T0 + 70 * MIN + 1, put('c', '2')));
    await sm.apply(log.entries.slice(3));
    expect(sm.sessionClientIds()).toEqual([]);
    expect(await storedSessions(store)).toEqual({});
  });

  it('persists lastSeenMs and so the log clock across a restart', async () => {
    const a = await stores.make();
    const b1 = await stores.make();
    const log = new Log();
    log.add(at(T0, put('a', '1', sess('A', 1))));
    log.add(at(T0 + 40 * MIN, put('b', '1', sess('B', 1))));
    log.add(at(T0 + 50 * MIN, put('x', '1'))); // sessionless: not recorded, does not move the clock for later
    const smA = await open(a.store);
    const smB = await open(b1.store);
    await smA.apply(log.entries);
    await smB.apply(log.entries);
    expect(await storedSessions(b1.store)).toEqual({
      A: { seq: 1, lastIndex: 1, lastSeenMs: T0 },
      B: { seq: 1, lastIndex: 2, lastSeenMs: T0 + 40 * MIN },
    });
    const smB2 = await open(await stores.reopen(b1));
    expect(smB2.logClockMs).toBe(T0 + 40 * MIN);
    expect(smB2.logClockMs).toBe(smA.logClockMs);
    // An unstamped command (older version) is recorded at the clock, which it does not advance.
    const more = new Log();
    for (const e of log.entries) more.entries.push(e);
    more.add(put('c', '1', sess('C', 1)));
    more.add(at(T0 + 60 * MIN + 1, put('y', '1'))); // expires A only (A: T0, B and C: T0 + 40 min)
    await smA.apply(more.entries);
    await smB2.apply(more.entries);
    for (const [sm, store] of [
      [smA, a.store],
      [smB2, b1.store],
    ] as const) {
      expect(sm.sessionClientIds()).toEqual(['B', 'C']);
      expect((await storedSessions(store)).C?.lastSeenMs).toBe(T0 + 40 * MIN);
      expect(sm.logClockMs).toBe(T0 + 40 * MIN);
    }
  });

  it('a snapshot carries lastSeenMs: the receiver expires the same sessions at the same time', async () => {
    const src = await stores.make();
    const smSrc = await open(src.store);
    const log = new Log();
    log.add(at(T0, put('a', '1', sess('A', 1))));
    log.add(at(T0 + 30 * MIN, put('b', '1', sess('B', 1))));
    await smSrc.apply(log.entries);
    const dst = await stores.make();
    const smDst = await open(dst.store);
    await transfer(smSrc.openSnapshot(), smDst, 'snap-2');
    expect(await storedSessions(dst.store)).toEqual(await storedSessions(src.store));
    expect(smDst.logClockMs).toBe(T0 + 30 * MIN);
    const reopened = await open(await stores.reopen(dst));
    expect(reopened.logClockMs).toBe(T0 + 30 * MIN);
    log.add(at(T0 + 60 * MIN + 1, put('tick', '1')));
    await smSrc.apply(log.entries);
    await reopened.apply(log.entries);
    expect(smSrc.sessionClientIds()).toEqual(['B']);
    expect(reopened.sessionClientIds()).toEqual(['B']);
  });

  it('decodes session records of the older format (no lastSeenMs); they expire with the oldest timed session', async () => {
    const s = await stores.make();
    // What the previous version stored: [seq, lastIndex, result tuple] (delete [2, existed]).
    await s.store.db.batch([
      { type: 'put', key: sessionKey(1, 'legacy'), value: encodeRecord([4, 1, [2, true]]) },
      { type: 'put', key: appliedKey(1), value: encodeIndex(1) },
    ]);
    const sm = await open(s.store);
    expect(sm.sessionClientIds()).toEqual(['legacy']);
    expect(sm.logClockMs).toBe(0);
    const log = new Log();
    log.add(null);
    log.add(at(T0, put('a', '1', sess('A', 1))));
    log.add(at(T0 + 30 * MIN, put('b', '1', sess('B', 1))));
    const retry = log.add(at(T0 + 59 * MIN, del('gone', sess('legacy', 4)))).index;
    let r = await sm.apply(log.entries);
    // Still remembered although it has no time: the remembered result, not a new delete.
    expect(r.get(retry)).toEqual({ type: 'delete', existed: true });
    expect(sm.sessionClientIds()).toEqual(['A', 'B', 'legacy']);
    // Re-used, the legacy session is rewritten with the clock of its use.
    expect((await storedSessions(s.store)).legacy?.lastSeenMs).toBe(T0 + 59 * MIN);

    // A second legacy session, never used: expires with A, the oldest timed session.
    const s2 = await stores.make();
    await s2.store.db.batch([
      { type: 'put', key: sessionKey(1, 'legacy'), value: encodeRecord([4, 1, [2, true]]) },
      { type: 'put', key: appliedKey(1), value: encodeIndex(1) },
    ]);
    const sm2 = await open(s2.store);
    const log2 = new Log();
    log2.add(null);
    log2.add(at(T0, put('a', '1', sess('A', 1))));
    log2.add(at(T0 + 30 * MIN, put('b', '1', sess('B', 1))));
    log2.add(at(T0 + 59 * MIN, put('c', '1')));
    await sm2.apply(log2.entries);
    expect(sm2.sessionClientIds()).toEqual(['legacy', 'A', 'B']);
    expect((await storedSessions(s2.store)).legacy?.lastSeenMs).toBeNull();
    log2.add(at(T0 + 60 * MIN + 1, put('c', '2')));
    r = await sm2.apply(log2.entries);
    expect(sm2.sessionClientIds()).toEqual(['B']);
    expect(Object.keys(await storedSessions(s2.store))).toEqual(['B']);
  });

  it('commands of the older format (no atMs) do not advance the clock; without any time nothing expires', async () => {
    const { store } = await stores.make();
    const sm = await open(store);
    const log = new Log();
    log.add(put('a', '1', sess('A', 1)));
    log.add(put('b', '1', sess('B', 1)));
    await sm.apply(log.entries);
    expect(sm.logClockMs).toBe(0);
    expect(await storedSessions(store)).toEqual({
      A: { seq: 1, lastIndex: 1, lastSeenMs: null },
      B: { seq: 1, lastIndex: 2, lastSeenMs: null },
    });
    log.add(at(T0, put('c', '1', sess('C', 1))));
    log.add(put('d', '1', sess('D', 1))); // unstamped after time is known: recorded at the clock
    await sm.apply(log.entries);
    expect(sm.logClockMs).toBe(T0);
    expect((await storedSessions(store)).D?.lastSeenMs).toBe(T0);
    expect(sm.sessionClientIds()).toEqual(['A', 'B', 'C', 'D']);
  });

  it('defaults to a one-hour TTL and rejects a bad one', async () => {
    expect(SESSION_TTL_MS_DEFAULT).toBe(3_600_000);
    const { store } = await stores.make();
    const sm = await StateMachine.open(store, 1, whole, { sessionsMax: 10 });
    const log = new Log();
    log.add(at(T0, put('a', '1', sess('A', 1))));
    log.add(at(T0 + 60 * MIN, put('b', '1')));
    await sm.apply(log.entries);
    expect(sm.sessionClientIds()).toEqual(['A']);
    log.add(at(T0 + 60 * MIN + 1, put('b', '2')));
    await sm.apply(log.entries);
    expect(sm.sessionClientIds()).toEqual([]);
    await expect(StateMachine.open(store, 2, whole, { sessionsMax: 10, sessionTtlMs: 0 })).rejects.toThrow(
      /sessionTtlMs/,
    );
  });
});
