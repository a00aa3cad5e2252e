/**
 * The cluster the forged-message tests start from (invalid-messages.test.ts, term-limit.test.ts).
 */
import { expect } from 'vitest';
import type { ConfigState } from '../../../src/raft';
import { Harness } from './harness';

export const VOTERS: ConfigState = { voters: [1, 2, 3], learners: [], votersOutgoing: [] };

/**
 * Voters {1, 2, 3}; three terms of history, leader 1 in term 3. Every node's log:
 *   1 (t1 empty), 2 (t1 'a'), 3 (t2 empty), 4 (t2 'b'), 5 (t3 empty), 6 (t3 'c'); commit 6.
 */
export function cluster(): Harness {
  const h = new Harness([1, 2, 3]);
  h.elect(1);
  h.propose(1, 'a');
  h.elect(2);
  h.propose(2, 'b');
  h.elect(1);
  h.propose(1, 'c');
  h.tickAll(1);
  for (const id of [1, 2, 3]) {
    const st = h.core(id).status();
    expect([st.term, st.lastIndex, st.commit]).toEqual([3, 6, 6]);
  }
  expect(h.leaders()).toEqual([1]);
  return h;
}
