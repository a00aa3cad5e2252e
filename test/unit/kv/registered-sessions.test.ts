/**
 * Registered sessions (kv/state-machine.ts; Raft dissertation 6.3) and request fingerprints: commands in
 * this version's form (session tags with a fingerprint) apply only for registered sessions, a reused seq
 * must carry the same request, and an undecodable entry is a deterministic no-op.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { withFingerprint } from '../../../src/codec';
import type { Command, CommandResult, SessionTag } from '../../../src/codec';
import { StateMachine } from '../../../src/kv';
import type { Entry } from '../../../src/raft';
import { Log, Stores, b, cas, del, put, whole } from './helpers';

const stores = new Stores();
afterEach(() => stores.cleanup());

const str = (v: Buffer | null) => (v === null ? null : v.toString());
const sess = (clientId: string, seq: number): SessionTag => ({ clientId, seq });
const reg = (clientId: string, atMs?: number): Command =>
  atMs === undefined ? { type: 'registerSession', clientId } : { type: 'registerSession', clientId, atMs };
/** The command as this version's server proposes it (session tag with the request fingerprint). */
const f = <C extends Command>(c: C): C => withFingerprint(c);

async function fresh(sessionsMax = 10, extra: { sessionTtlMs?: number } = {}) {
  const { store } = await stores.make();
  const sm = await StateMachine.open(store, 1, whole, { sessionsMax, ...extra });
  return { store, sm, log: new Log() };
}

describe('request fingerprints', () => {
  it('a reused seq with another request changes nothing and says so; the same request gets the remembered result', async () => {
    const { sm, log } = await fresh();
    log.add(reg('c1'));
    const first = log.add(f(put('k', 'A', sess('c1', 1)))).index;
    const otherKey = log.add(f(put('other', 'X', sess('c1', 1)))).index;
    const otherValue = log.add(f(put('k', 'B', sess('c1', 1)))).index;
    const asDelete = log.add(f(del('k', sess('c1', 1)))).index;
    const asCas = log.add(f(cas('k', 'A', 'C', sess('c1', 1)))).index;
    const retry = log.add(f(put('k', 'A', sess('c1', 1)))).index;
    const r = await sm.apply(log.entries);
    expect(r.get(first)).toEqual({ type: 'put' });
    for (const i of [otherKey, otherValue, asDelete, asCas])
      expect(r.get(i)).toEqual({ type: 'sessionSeqReused', seq: 1 });
    expect(r.get(retry)).toEqual({ type: 'put' });
    expect(str(await sm.get(b('k')))).toBe('A');
    expect(await sm.get(b('other'))).toBeNull();
  });

  it('the fingerprint survives a restart, and a later seq moves on', async () => {
    const s = await stores.make();
    let sm = await StateMachine.open(s.store, 1, whole, { sessionsMax: 10 });
    const log = new Log();
    log.add(reg('c1'));
    log.add(f(cas('k', null, 'A', sess('c1', 1))));
    await sm.apply(log.entries);
    sm = await StateMachine.open(await stores.reopen(s), 1, whole, { sessionsMax: 10 });
    const wrong = log.add(f(put('k', 'Z', sess('c1', 1))));
    const same = log.add(f(cas('k', null, 'A', sess('c1', 1))));
    const next = log.add(f(put('k', 'B', sess('c1', 2))));
    const r = await sm.apply([wrong, same, next]);
    expect(r.get(wrong.index)).toEqual({ type: 'sessionSeqReused', seq: 1 });
    expect(r.get(same.index)).toEqual({ type: 'cas', succeeded: true, current: null });
    expect(r.get(next.index)).toEqual({ type: 'put' });
    expect(str(await sm.get(b('k')))).toBe('B');
  });

  it('a legacy command (no fingerprint) on the same seq gets the remembered result, as before', async () => {
    const { sm, log } = await fresh();
    log.add(reg('c1'));
    log.add(f(put('k', 'A', sess('c1', 1))));
    const legacy = log.add(put('elsewhere', 'Z', sess('c1', 1))).index;
    const r = await sm.apply(log.entries);
    expect(r.get(legacy)).toEqual({ type: 'put' });
    expect(await sm.get(b('elsewhere'))).toBeNull();
  });
});

describe('registered sessions', () => {
  it('a write from a session never registered is sessionExpired whatever its seq, and applies nothing', async () => {
    const { sm, log } = await fresh();
    const one = log.add(f(put('k', 'A', sess('ghost', 1)))).index;
    const seven = log.add(f(del('k', sess('ghost', 7)))).index;
    const noSession = log.add(f(put('n', 'free', null))).index;
    const r = await sm.apply(log.entries);
    expect(r.get(one)).toEqual({ type: 'sessionExpired' });
    expect(r.get(seven)).toEqual({ type: 'sessionExpired' });
    expect(r.get(noSession)).toEqual({ type: 'put' });
    expect(await sm.get(b('k'))).toBeNull();
    expect(sm.sessionCount).toBe(0);
  });

  it('registration is idempotent: a retried registration does not reset the session', async () => {
    const { sm, log } = await fresh();
    const r1 = log.add(reg('c1')).index;
    log.add(f(cas('k', null, 'A', sess('c1', 1))));
    const again = log.add(reg('c1')).index;
    const retry = log.add(f(cas('k', null, 'A', sess('c1', 1)))).index;
    const r = await sm.apply(log.entries);
    expect(r.get(r1)).toEqual({ type: 'registerSession', clientId: 'c1' });
    expect(r.get(again)).toEqual({ type: 'registerSession', clientId: 'c1' });
    expect(r.get(retry)).toEqual({ type: 'cas', succeeded: true, current: null });
    expect(sm.sessionCount).toBe(1);
  });

  it('a session evicted by count is unknown afterwards: its retry of an applied write is sessionExpired, not applied again', async () => {
    const { sm, log } = await fresh(2);
    log.add(reg('victim'));
    log.add(f(put('k', 'v1', sess('victim', 1))));
    log.add(put('k', 'v2', null)); // someone else overwrites
    log.add(reg('x'));
    log.add(reg('y')); // evicts the victim (least recently used)
    const retry = log.add(f(put('k', 'v1', sess('victim', 1)))).index;
    const r = await sm.apply(log.entries);
    expect(sm.sessionClientIds()).toEqual(['x', 'y']);
    expect(r.get(retry)).toEqual({ type: 'sessionExpired' });
    expect(str(await sm.get(b('k')))).toBe('v2');
  });

  it('a session expired by log time is unknown afterwards', async () => {
    const ttl = 60_000;
    const { sm, log } = await fresh(10, { sessionTtlMs: ttl });
    log.add(reg('c1', 1_000));
    log.add({ ...f(put('k', 'v1', sess('c1', 1))), atMs: 2_000 });
    log.add({ type: 'noop', atMs: 2_000 + ttl + 1 });
    const late = log.add({ ...f(put('k', 'v9', sess('c1', 2))), atMs: 2_000 + ttl + 2 }).index;
    const r = await sm.apply(log.entries);
    expect(r.get(late)).toEqual({ type: 'sessionExpired' });
    expect(str(await sm.get(b('k')))).toBe('v1');
  });

  it('replicas applying in different batches (with restarts) give the same results and sessions', async () => {
    const log = new Log();
    for (let i = 0; i < 12; i++) log.add(reg(`c${i}`));
    for (let i = 0; i < 60; i++) {
      const c = `c${(i * 7) % 14}`; // c12 and c13 are never registered
      log.add(f(put(`k${i % 5}`, `v${i}`, sess(c, 1 + Math.floor(i / 14)))));
      if (i % 9 === 0) log.add(reg(`late${i}`));
    }
    const runs: unknown[] = [];
    for (const split of [1000, 5, 1]) {
      const s = await stores.make();
      let sm = await StateMachine.open(s.store, 1, whole, { sessionsMax: 6 });
      const results: Array<[number, CommandResult]> = [];
      for (let i = 0; i < log.entries.length; i += split) {
        results.push(...(await sm.apply(log.entries.slice(i, i + split))));
        if (split === 5) sm = await StateMachine.open(await stores.reopen(s), 1, whole, { sessionsMax: 6 });
      }
      runs.push({ results, ids: sm.sessionClientIds() });
    }
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
  });
});

describe('undecodable entries', () => {
  it('are applied as no-ops on every replica: applied moves, nothing else changes, reported once each', async () => {
    const garbage: Entry[] = [];
    const log = new Log();
    log.add(put('a', '1'));
    const bad1: Entry = { kind: 'normal', term: 1, index: 2, data: Buffer.from([0x93, 1, 2, 3]) };
    log.entries.push(bad1);
    const bad2: Entry = { kind: 'normal', term: 1, index: 3, data: Buffer.from([0xc1]) };
    log.entries.push(bad2);
    garbage.push(bad1, bad2);
    log.add(put('b', '2'));
    const states: unknown[] = [];
    for (const split of [10, 1]) {
      const { store } = await stores.make();
      const seen: Array<{ index: number; message: string }> = [];
      const sm = await StateMachine.open(store, 1, whole, {
        sessionsMax: 4,
        onUndecodable: (i) => seen.push({ index: i.index, message: i.message }),
      });
      const results = new Map<number, CommandResult>();
      for (let i = 0; i < log.entries.length; i += split)
        for (const [k, v] of await sm.apply(log.entries.slice(i, i + split))) results.set(k, v);
      expect(sm.applied).toBe(4);
      expect(sm.undecodableEntries).toBe(2);
      expect(seen.map((x) => x.index)).toEqual([2, 3]);
      expect(results.get(2)?.type).toBe('undecodable');
      expect(results.get(3)?.type).toBe('undecodable');
      expect(str(await sm.get(b('a')))).toBe('1');
      expect(str(await sm.get(b('b')))).toBe('2');
      states.push([...results.entries()]);
    }
    expect(states[1]).toEqual(states[0]);
    expect(garbage).toHaveLength(2);
  });
});
