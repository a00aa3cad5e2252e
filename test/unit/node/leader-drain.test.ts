/**
 * node/leader-drain.ts without a cluster: the target choice (live, caught-up voter; ties by id), the
 * TimeoutNow filter of a draining node, and drainLeaders against a fake host: every leadership moved,
 * a leadership that comes back moved again, and a bounded, non-throwing end when nothing can move.
 */
import { describe, expect, it } from 'vitest';
import type { GroupId, NodeId } from '../../../src/base';
import { encodeRaftMessage } from '../../../src/codec';
import type { GroupStatusInfo, MemberInfo } from '../../../src/node';
import { drainLeaders, pickLeaderTarget, refusesLeadership, type LeaderDrainHost } from '../../../src/node';
import { silentLogger } from '../../../src/obs';

const m = (id: number, match: number, voter = true): MemberInfo => ({ id, address: `h:${id}`, voter, match });

describe('pickLeaderTarget', () => {
  it('picks the most caught-up live voter other than itself, lowest id on ties', () => {
    const all = () => true;
    expect(pickLeaderTarget([m(1, 50), m(2, 40), m(3, 45)], 1, all)).toBe(3);
    expect(pickLeaderTarget([m(1, 50), m(2, 45), m(3, 45)], 1, all)).toBe(2);
    expect(pickLeaderTarget([m(1, 50), m(2, 49, false), m(3, 10)], 1, all)).toBe(3);
    expect(pickLeaderTarget([m(1, 50), m(2, 49), m(3, 10)], 1, (id) => id !== 2)).toBe(3);
    expect(pickLeaderTarget([m(1, 50), m(2, 0)], 1, all)).toBeNull();
    expect(pickLeaderTarget([m(1, 50)], 1, all)).toBeNull();
  });
});

describe('refusesLeadership', () => {
  const msg = (type: 'timeoutNow' | 'heartbeat'): Buffer =>
    type === 'timeoutNow'
      ? encodeRaftMessage({ groupId: 7, message: { type, from: 2, to: 1, term: 3 } })
      : encodeRaftMessage({ groupId: 7, message: { type, from: 2, to: 1, term: 3, commit: 1, context: 0 } });

  it('drops TimeoutNow and keeps everything else, in order (undecodable bytes are left to the node)', () => {
    const hb1 = msg('heartbeat');
    const hb2 = msg('heartbeat');
    const junk = Buffer.from([1, 2, 3]);
    const batch = [hb1, msg('timeoutNow'), junk, msg('timeoutNow'), hb2];
    expect(refusesLeadership(batch)).toEqual([hb1, junk, hb2]);
    const clean = [hb1, hb2];
    expect(refusesLeadership(clean)).toBe(clean);
  });
});

/** A node leading some groups; a transfer succeeds to any node in `accepts`. */
class FakeHost implements LeaderDrainHost {
  readonly nodeId: NodeId = 1;
  readonly leading = new Set<GroupId>();
  readonly transfers: [GroupId, NodeId][] = [];
  accepts = new Set<NodeId>([2, 3]);
  /** Leaderships that come back once after a transfer (a balancing move back). */
  readonly comesBack = new Set<GroupId>();

  constructor(groups: number[]) {
    for (const g of groups) this.leading.add(g as GroupId);
  }
  groupIds(): GroupId[] {
    return [1, 2, 3, 4, 5] as GroupId[];
  }
  groupStatus(groupId: GroupId): GroupStatusInfo {
    const role = this.leading.has(groupId) ? 'leader' : 'follower';
    return {
      groupId,
      role,
      members: [m(1, 100), m(2, 90), m(3, 100)],
    } as unknown as GroupStatusInfo;
  }
  peersHeardMs(): Map<NodeId, number> {
    return new Map([
      [2 as NodeId, performance.now()],
      [3 as NodeId, performance.now()],
    ]);
  }
  async transferLeader(groupId: GroupId, to: NodeId): Promise<NodeId> {
    this.transfers.push([groupId, to]);
    await new Promise((r) => setTimeout(r, 1));
    if (!this.accepts.has(to)) throw new Error(`node ${to} did not take group ${groupId}`);
    this.leading.delete(groupId);
    if (this.comesBack.delete(groupId)) setTimeout(() => this.leading.add(groupId), 5);
    return to;
  }
}

describe('drainLeaders', () => {
  const opts = { budgetMs: 2000, electionMs: 1000, logger: silentLogger() };

  it('moves every leadership to the most caught-up voter and again when one comes back', async () => {
    const host = new FakeHost([1, 3, 5]);
    host.comesBack.add(3 as GroupId);
    const first = await drainLeaders(host, { ...opts, budgetMs: 0 });
    expect(first.ok).toBe(false);
    expect(first.remaining).toEqual([1, 3, 5]);
    const r = await drainLeaders(host, opts);
    expect(r.ok).toBe(true);
    expect(r.remaining).toEqual([]);
    expect(host.transfers.every(([, to]) => to === 3)).toBe(true);
    // Group 3 came back after its first transfer and was moved again in a later round.
    expect(host.transfers.filter(([g]) => g === 3).length).toBe(2);
    expect(host.leading.size).toBe(0);
  });

  it('returns at once when no group it leads has a live voter to take over', async () => {
    const host = new FakeHost([2]);
    host.peersHeardMs = () => new Map();
    const r = await drainLeaders(host, { ...opts, budgetMs: 60_000 });
    expect(r).toMatchObject({ ok: false, moved: 0, remaining: [2] });
    expect(r.elapsedMs).toBeLessThan(30_000);
    expect(host.transfers).toEqual([]);
  });

  it('ends by its budget, without throwing, naming what it still leads', async () => {
    const host = new FakeHost([2, 4]);
    host.accepts = new Set();
    const t0 = Date.now();
    const r = await drainLeaders(host, { ...opts, budgetMs: 150 });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r).toMatchObject({ ok: false, moved: 0, remaining: [2, 4] });
    expect(host.transfers.length).toBeGreaterThan(0);
  });
});
