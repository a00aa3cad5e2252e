/**
 * LoopLag (issue 9 §4): the lag is how overdue the sampler's next firing is, so it is seen inside a long
 * loop turn, and it is 0 again once the timer fired (a single slow turn sheds nothing after it).
 * Injected clock; one real-timer case (a blocked loop is seen as lagging while it is still blocked).
 */
import { describe, expect, it } from 'vitest';
import { LoopLag, shedAfterMsFor } from '../../../src/obs';

describe('LoopLag', () => {
  it('reports how overdue the next firing is, and nothing once it fired', () => {
    let now = 1000;
    const lag = new LoopLag(20, () => now);
    expect(lag.lagMs()).toBe(0);
    now += 20;
    lag.sample(); // on time
    expect(lag.lagMs()).toBe(0);
    now += 15;
    expect(lag.lagMs()).toBe(0); // not due yet: never negative
    now += 185; // the next firing is 180 ms overdue: a long turn is running
    expect(lag.lagMs()).toBe(180);
    lag.sample(); // it fires, 180 ms late: the long turn is over
    expect([lag.lagMs(), lag.lastLateMs]).toEqual([0, 180]);
    now += 20;
    lag.sample(); // on time again
    expect([lag.lagMs(), lag.lastLateMs]).toEqual([0, 0]);
  });

  it('sees a blocked event loop while it is still blocked (real timer)', async () => {
    const lag = new LoopLag(20).start();
    try {
      await new Promise((r) => setTimeout(r, 60));
      expect(lag.lagMs()).toBeLessThan(150); // generous: a loaded machine
      const until = performance.now() + 300;
      while (performance.now() < until); // a 300 ms loop turn: the timer cannot fire
      expect(lag.lagMs()).toBeGreaterThanOrEqual(250);
    } finally {
      lag.stop();
    }
  });

  it('derives the shedding threshold from the Raft timing', () => {
    expect(shedAfterMsFor({ tickMs: 50, electionMs: 1000 })).toBe(250);
    expect(shedAfterMsFor({ tickMs: 10, electionMs: 200 })).toBe(50);
    expect(shedAfterMsFor({ tickMs: 200, electionMs: 1000 })).toBe(400);
  });
});
