/**
 * What the catchup and membership nemeses share: the cluster operations they use, waiting (bounded) until
 * the others compacted their logs past a stopped node, and until a node caught up. Every loop is bounded
 * in time and stops early when the run is stopping (the nemesis' abort signal).
 *
 * Invariants: nothing here leaves a node stopped (callers restart what they killed, in finally blocks).
 */
import type { Random } from '../../src/base';
import type { GroupInfo } from '../cluster/admin-client';
import type { LeaderInfo } from '../cluster/cluster';
import type { NemesisLog } from './nemesis-log';

export interface AwayCluster {
  readonly ids: number[];
  readonly removed: Set<number>;
  leader(): Promise<LeaderInfo | null>;
  groupStatus(id: number, timeoutMs?: number): Promise<GroupInfo | null>;
  /** Every group (shard) node `id` hosts; absent: the cluster has one group (groupStatus's). */
  groupsStatus?(id: number, timeoutMs?: number): Promise<GroupInfo[] | null>;
  kill(ids: readonly number[]): Promise<void>;
  restart(ids: readonly number[]): void;
  /** groupId: the workload's group (LeaderInfo.groupId); 0 is the first data shard. */
  removeMember(leader: number, id: number, groupId?: number): Promise<void>;
  addMember(leader: number, id: number, groupId?: number): Promise<void>;
  writeBallast(round: number): Promise<number>;
}

export interface AwayContext {
  cluster: AwayCluster;
  rng: Random;
  log: NemesisLog;
  signal: AbortSignal;
  /** How long a live majority may take to elect a leader in the membership away check (default 20 s). */
  electMs?: number;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The leader, waiting for one (a previous fault may have just restarted nodes) up to `budgetMs`. */
export async function awaitLeader(ctx: AwayContext, budgetMs = 15_000): Promise<LeaderInfo | null> {
  const end = Date.now() + budgetMs;
  for (;;) {
    const l = await ctx.cluster.leader();
    if (l || Date.now() >= end || ctx.signal.aborted) return l;
    await sleep(200);
  }
}

/**
 * Node `id`'s applied index before it is stopped, waiting (5 s at most) for it to answer, e.g. while it
 * still starts after the previous fault; failing that the leader's commit index (compaction past that is
 * past whatever `id` applied).
 */
export async function appliedBefore(ctx: AwayContext, id: number, leader: number): Promise<number> {
  const end = Date.now() + 5000;
  for (;;) {
    const g = await ctx.cluster.groupStatus(id);
    if (g) return g.applied;
    if (Date.now() >= end || ctx.signal.aborted) return (await ctx.cluster.groupStatus(leader))?.commit ?? 0;
    await sleep(200);
  }
}

/**
 * Waits (bounded) until the leader reports every member within 100 entries of its commit index: a node
 * restarted by the previous fault is not yet "recently active", and the membership guard would refuse to
 * remove another voter meanwhile. Resolves to whether they were.
 */
export async function membersCaughtUp(ctx: AwayContext, leader: number, budgetMs = 15_000): Promise<boolean> {
  const end = Date.now() + budgetMs;
  for (;;) {
    const g = await ctx.cluster.groupStatus(leader);
    if (g && g.members.length > 0 && g.members.every((m) => m.id === leader || m.match + 100 >= g.commit)) return true;
    if (Date.now() >= end || ctx.signal.aborted) return false;
    await sleep(250);
  }
}

/**
 * The workload shard's replicas as its leader `leader` reports them; undefined when it lists none (a fake
 * node: every node then). With --shards on 5 nodes most nodes host none of that shard, and a node's status
 * then shows another shard: the nemeses pick and wait among these.
 */
export async function workloadMembers(c: AwayCluster, leader: number): Promise<number[] | undefined> {
  const listed = (await c.groupStatus(leader))?.members.map((m) => m.id);
  return listed !== undefined && listed.length > 0 ? listed : undefined;
}

/**
 * A member other than the leader and `exclude`, not removed, and one of `among` when given (the workload
 * shard's replicas: in a sharded cluster most nodes host none of it); null when there is none.
 */
export function pickFollower(
  c: AwayCluster,
  leader: number,
  rng: Random,
  exclude: number[] = [],
  among?: readonly number[],
): number | null {
  const ids = c.ids.filter(
    (i) => i !== leader && !c.removed.has(i) && !exclude.includes(i) && (among === undefined || among.includes(i)),
  );
  return ids.length === 0 ? null : rng.pick(ids);
}

/**
 * Writes ballast while `away` is stopped until every other running node's log starts past index `past`
 * (it compacted what `away` would need), or `budgetMs` ends. Resolves to whether they did. `among`: the
 * nodes to ask (the workload shard's replicas; a node without one reports another shard's log).
 */
export async function compactPast(
  ctx: AwayContext,
  away: number,
  past: number,
  budgetMs: number,
  among?: readonly number[],
): Promise<boolean> {
  const c = ctx.cluster;
  const end = Date.now() + budgetMs;
  let round = 0;
  while (Date.now() < end && !ctx.signal.aborted) {
    const others = (among ?? c.ids).filter((i) => i !== away);
    const firsts = await Promise.all(others.map((i) => c.groupStatus(i)));
    if (firsts.every((g) => g === null || g.firstIndex > past + 1) && firsts.some((g) => g !== null)) {
      ctx.log.write({
        type: 'instant',
        kind: 'compaction',
        description: `nodes ${others.join(',')} compacted past ${past} (first indexes ${firsts.map((g) => g?.firstIndex ?? '?').join(',')}) while node ${away} was away`,
        nodes: others,
      });
      return true;
    }
    await Promise.all([c.writeBallast(round++), c.writeBallast(round++)]);
  }
  ctx.log.write({
    type: 'error',
    kind: 'compaction',
    description: `the others did not compact past ${past} within ${budgetMs} ms while node ${away} was away`,
    error: 'not compacted',
  });
  return false;
}

/** Waits until node `id` applied at least the leader's commit index as of now; resolves to the ms it took or null. */
export async function waitCaughtUp(ctx: AwayContext, id: number, budgetMs: number): Promise<number | null> {
  const c = ctx.cluster;
  const start = Date.now();
  let target = 0;
  while (Date.now() - start < budgetMs && !ctx.signal.aborted) {
    if (target === 0) {
      const l = await c.leader();
      const g = l ? await c.groupStatus(l.leader) : null;
      target = g?.commit ?? 0;
    }
    const g = target > 0 ? await c.groupStatus(id) : null;
    if (g && g.applied >= target) return Date.now() - start;
    await sleep(100);
  }
  return null;
}

/** What waitShardsCaughtUp found: the shards node `id` hosts that had caught up, and those still behind. */
export interface ShardsCaughtUp {
  ms: number;
  caughtUp: number;
  /** Group ids still behind their leader's commit index (as of the start) when the budget ended. */
  behind: number[];
}

/**
 * Waits (bounded) until node `id` applied, in every group it hosts, at least that group's commit index as
 * its leader reported it at the start: after a restart every shard of the node catches up, not only the
 * workload's (by log or by snapshot). Groups without a leader at the start, or not hosted on `id`, are not
 * waited for. Null when the cluster reports no groups (one-group fakes) or the run stops first.
 */
export async function waitShardsCaughtUp(
  ctx: AwayContext,
  id: number,
  budgetMs: number,
): Promise<ShardsCaughtUp | null> {
  const c = ctx.cluster;
  if (!c.groupsStatus) return null;
  const start = Date.now();
  const targets = new Map<number, number>();
  for (const other of c.ids) {
    for (const g of (await c.groupsStatus(other)) ?? [])
      if (g.role === 'leader') targets.set(g.groupId, Math.max(targets.get(g.groupId) ?? 0, g.commit));
  }
  let behind: number[] = [...targets.keys()];
  let caughtUp = 0;
  while (!ctx.signal.aborted) {
    const mine = await c.groupsStatus(id);
    if (mine) {
      const hosted = [...targets].filter(([gid]) => mine.some((g) => g.groupId === gid));
      behind = hosted
        .filter(([gid, commit]) => (mine.find((g) => g.groupId === gid)?.applied ?? 0) < commit)
        .map(([gid]) => gid);
      caughtUp = hosted.length - behind.length;
      if (behind.length === 0) return { ms: Date.now() - start, caughtUp, behind };
    }
    if (Date.now() - start >= budgetMs) return { ms: Date.now() - start, caughtUp, behind };
    await sleep(200);
  }
  return null;
}
