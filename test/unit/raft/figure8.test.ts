/**
 * The Raft paper's figure 8: a leader must not commit an entry of an earlier term by counting replicas,
 * even when a majority stores it, because a server with a later-term last entry can still be elected and
 * overwrite it. With unsafe.commitOldTermByCount the anomaly happens (a committed entry is lost).
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../src/raft';
import { Harness, dec } from './harness';

function run(unsafe: boolean) {
  const h = new Harness([1, 2, 3, 4, 5], {
    appendBytesMax: 1,
    unsafe: unsafe ? { commitOldTermByCount: true } : undefined,
  });
  // (a) 1 leads term 1 and replicates 'AA' at index 2 to 2 only.
  h.elect(1);
  h.cut(1, 3);
  h.cut(1, 4);
  h.cut(1, 5);
  expect(h.propose(1, 'AA')).toMatchObject({ ok: true, index: 2, term: 1 });
  expect(h.node(2).log.map((e) => e.index)).toEqual([1, 2]);
  expect(h.core(1).status().commit).toBe(1);
  // (b) 1 crashes; 5 is elected in term 2 by 3, 4, 5 and appends an entry at index 2 that nobody gets.
  h.crash(1);
  h.heal();
  h.dropIf = (m: Message) => m.from === 5 && m.type === 'append';
  h.elect(5);
  expect(h.core(5).status()).toMatchObject({ term: 2, lastIndex: 2 });
  h.crash(5);
  h.dropIf = null;
  // (c) 1 restarts and is elected in term 3; it replicates its term-1 entry 2 to a majority (1, 2, 3, 4)
  // but every append that would store its term-3 entry is lost, and once it committed index 2 (unsafe), nobody
  // hears about that commit either.
  h.restart(1);
  h.dropIf = (m: Message) =>
    m.from === 1 &&
    ((m.type === 'append' && ((m.entries.some((e) => e.term > 1) && h.node(m.to).log.length >= 2) || m.commit >= 2)) ||
      (m.type === 'heartbeat' && m.commit >= 2));
  h.elect(1);
  const term1 = h.core(1).status().term;
  expect(term1).toBeGreaterThanOrEqual(3);
  for (const id of [2, 3, 4]) expect(h.node(id).log.map((e) => e.term)).toEqual([1, 1]);
  const committedByOne = h.core(1).status().commit;
  // (d) 1 crashes; 5 (last entry term 2) wins over 2, 3, 4 (last entry term 1) and overwrites index 2.
  h.crash(1);
  h.dropIf = null;
  h.restart(5);
  h.elect(5);
  h.tickAll(2);
  return { h, committedByOne };
}

describe('Raft figure 8', () => {
  it('an old-term entry on a majority is not committed by counting; the new leader may overwrite it safely', () => {
    const { h, committedByOne } = run(false);
    expect(committedByOne).toBe(1);
    expect(h.node(1).appliedEntries.map((e) => e.index)).toEqual([1]);
    // The surviving cluster committed 5's term-2 entry at index 2; nobody ever applied 'AA'.
    for (const id of [2, 3, 4, 5]) {
      const at2 = h.node(id).appliedEntries.find((e) => e.index === 2);
      expect(at2?.term).toBe(2);
      expect(h.node(id).sm).toEqual([]);
    }
  });

  it('with unsafe.commitOldTermByCount the leader commits and applies it, and it is later lost', () => {
    const { h, committedByOne } = run(true);
    expect(committedByOne).toBe(2);
    const applied1 = h.node(1).appliedEntries.find((e) => e.index === 2);
    expect(applied1?.kind === 'normal' && dec(applied1.data)).toBe('AA');
    const at2 = h.node(2).appliedEntries.find((e) => e.index === 2);
    expect(at2?.term).toBe(2); // a different entry is committed at the same index: safety violated
  });
});
