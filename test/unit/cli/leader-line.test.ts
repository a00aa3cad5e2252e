/** `npm start`'s leadership lines (cmd/leader-line.ts): no alarming "no leader" before the first election. */
import { describe, expect, it } from 'vitest';
import { leaderLine } from '../../../cmd/leader-line';

const address = (id: number) => `127.0.0.1:700${id}`;

describe('leaderLine', () => {
  it('waits for the first election, names the leader, and reports a leader lost later', () => {
    expect(leaderLine({ leader: 0, term: 0 }, false, address)).toBe('*** waiting for the first leader election...');
    expect(leaderLine({ leader: 0, term: 1 }, false, address)).not.toMatch(/no leader/);
    expect(leaderLine({ leader: 2, term: 1 }, false, address)).toBe(
      '*** leader elected: node 2 (127.0.0.1:7002), term 1',
    );
    expect(leaderLine({ leader: 0, term: 3 }, true, address)).toBe('*** no leader since term 3: electing a new one...');
  });
});
