/**
 * Self-repair decisions (src/node/self-repair-policy.ts): whom a damaged replica asks, when it starts, when
 * a staged copy may be installed (the safety rule: the copy's index A within [firstIndex - 1, applied], never
 * on a leader), and whom a node serves.
 */
import { describe, expect, it } from 'vitest';
import {
  decideInstall,
  decideServe,
  decideStart,
  repairSources,
  retryDelayMs,
  sourceFor,
} from '../../../src/node/self-repair-policy';

describe('repairSources / sourceFor', () => {
  it('asks the leader first, then the other voters, then learners, never itself', () => {
    expect(repairSources({ self: 2, leader: 3, voters: [1, 2, 3], learners: [5, 4] })).toEqual([3, 1, 4, 5]);
    expect(repairSources({ self: 2, leader: 0, voters: [3, 2, 1], learners: [] })).toEqual([1, 3]);
    expect(repairSources({ self: 2, leader: 2, voters: [1, 2, 3], learners: [] })).toEqual([1, 3]);
  });

  it('rotates through the sources by attempt and has none for a lone member', () => {
    const m = { self: 1, leader: 3, voters: [1, 2, 3], learners: [] };
    expect([0, 1, 2, 3].map((a) => sourceFor(m, a))).toEqual([3, 2, 3, 2]);
    expect(sourceFor({ self: 1, leader: 1, voters: [1], learners: [] }, 0)).toBeNull();
  });
});

describe('decideStart', () => {
  const base = {
    needsRepair: true,
    inProgress: false,
    role: 'follower' as const,
    stagingBusy: false,
    nowMs: 1000,
    retryAtMs: 0,
  };
  it('fetches when a follower needs repair and nothing is in the way', () => {
    expect(decideStart(base)).toBe('fetch');
  });
  it('does nothing for a healthy replica or while an attempt runs', () => {
    expect(decideStart({ ...base, needsRepair: false })).toBe('idle');
    expect(decideStart({ ...base, inProgress: true })).toBe('idle');
  });
  it('waits out the backoff and a Raft snapshot being staged', () => {
    expect(decideStart({ ...base, retryAtMs: 1001 })).toBe('wait');
    expect(decideStart({ ...base, stagingBusy: true })).toBe('wait');
  });
  it('a leader hands leadership over instead of fetching', () => {
    expect(decideStart({ ...base, role: 'leader' })).toBe('stepDown');
  });
});

describe('decideInstall', () => {
  const base = {
    stagedIndex: 100,
    applied: 120,
    firstIndex: 50,
    role: 'follower' as const,
    nowMs: 0,
    deadlineMs: 10_000,
  };
  it('installs a copy at or behind the applied index whose later entries the log still holds', () => {
    expect(decideInstall(base)).toEqual({ kind: 'install' });
    expect(decideInstall({ ...base, stagedIndex: 120 })).toEqual({ kind: 'install' });
    expect(decideInstall({ ...base, stagedIndex: 49 })).toEqual({ kind: 'install' });
  });
  it('drops a copy older than the log start (the entries after it are gone)', () => {
    expect(decideInstall({ ...base, stagedIndex: 48 }).kind).toBe('discard');
  });
  it('waits while the copy is ahead of this replica, and drops it once the wait ran out', () => {
    expect(decideInstall({ ...base, stagedIndex: 121 })).toEqual({ kind: 'wait' });
    expect(decideInstall({ ...base, stagedIndex: 121, nowMs: 10_000 }).kind).toBe('discard');
  });
  it('never installs on a leader', () => {
    expect(decideInstall({ ...base, role: 'leader' })).toEqual({ kind: 'wait' });
    expect(decideInstall({ ...base, role: 'leader', nowMs: 10_000 }).kind).toBe('discard');
  });
});

describe('decideServe', () => {
  const base = {
    requester: 2,
    self: 1,
    voters: [1, 2, 3],
    learners: [4],
    selfNeedsRepair: false,
    serving: 0,
    servingMax: 2,
  };
  it('serves a voter or a learner of the group', () => {
    expect(decideServe(base)).toEqual({ ok: true });
    expect(decideServe({ ...base, requester: 4 })).toEqual({ ok: true });
  });
  it('refuses a non-member, itself, a damaged source, and past the bound', () => {
    expect(decideServe({ ...base, requester: 9 }).ok).toBe(false);
    expect(decideServe({ ...base, requester: 1 }).ok).toBe(false);
    expect(decideServe({ ...base, selfNeedsRepair: true }).ok).toBe(false);
    expect(decideServe({ ...base, serving: 2 }).ok).toBe(false);
  });
});

describe('retryDelayMs', () => {
  it('doubles from initialMs up to maxMs', () => {
    const b = { initialMs: 250, maxMs: 5000 };
    expect([0, 1, 2, 3, 6, 100].map((f) => retryDelayMs(f, b))).toEqual([0, 250, 500, 1000, 5000, 5000]);
  });
});
