/**
 * The `catchup` nemesis: kill a follower, write ballast until the others compact their logs past it (so it
 * can only catch up by snapshot), restart it, and kill it or the leader again while it catches up: once it
 * has heard from a leader (the snapshot stream starts right after) and before its applied index reaches the
 * compaction point (the install is not finished). Then restart the victim and wait (bounded) for the
 * follower to catch up: on the workload's shard, then on every other shard it hosts (with --shards, each by
 * log or snapshot; the log says how many, and which are still behind). The log says whether the second kill
 * landed mid catch-up.
 *
 * Invariants: bounded (about 75 s at most); every node killed here is restarted before the undo resolves;
 * nodes only need small compaction thresholds (catchupNodeArgs) for this to take seconds.
 */
import type { AwayContext } from './away';
import {
  appliedBefore,
  awaitLeader,
  compactPast,
  errText,
  pickFollower,
  sleep,
  waitCaughtUp,
  waitShardsCaughtUp,
  workloadMembers,
} from './away';

export type CatchupVictim = 'follower' | 'leader';

/** Node flags that make compaction happen within seconds under the workload, and snapshots take many chunks. */
export const catchupNodeFlags: ReadonlyArray<[flag: string, value: string]> = [
  ['--snapshot-entries', '200'],
  ['--log-retain-entries', '20'],
  ['--snapshot-chunk-bytes', '8192'],
];

/**
 * The flags the nemeses in `kinds` need on every node (catchup and membership: catchupNodeFlags), leaving
 * out those `userArgs` (from --node-args) sets itself.
 */
export function nemesisNodeArgs(kinds: readonly string[], userArgs: readonly string[]): string[] {
  if (!kinds.includes('catchup') && !kinds.includes('membership')) return [];
  return catchupNodeFlags.filter(([f]) => !userArgs.some((a) => a === f || a.startsWith(`${f}=`))).flat();
}

/** Polls node `id` every 20 ms until it reports a leader; resolves to its applied index then, or null. */
async function waitHearsLeader(ctx: AwayContext, id: number, budgetMs: number): Promise<number | null> {
  const end = Date.now() + budgetMs;
  while (Date.now() < end && !ctx.signal.aborted) {
    const g = await ctx.cluster.groupStatus(id, 300);
    if (g && g.leader !== 0) return g.applied;
    await sleep(20);
  }
  return null;
}

/** Runs the whole fault; resolves to its undo (restarts whatever is still down). */
export async function runCatchup(ctx: AwayContext, victim: CatchupVictim): Promise<() => Promise<void>> {
  const c = ctx.cluster;
  const l = await awaitLeader(ctx);
  if (!l) throw new Error('no leader to find a follower of within 15 s');
  // A replica of the workload's shard: its status is what the steps below read.
  const members = await workloadMembers(c, l.leader);
  const f = pickFollower(c, l.leader, ctx.rng, [], members);
  if (f === null) throw new Error('no follower to kill');
  const before = await appliedBefore(ctx, f, l.leader);
  const down = new Set<number>([f]);
  const undo = async (): Promise<void> => {
    c.restart([...down]);
    ctx.log.write({ type: 'stop', kind: 'catchup', description: `restart ${[...down].join(',')}`, nodes: [...down] });
    down.clear();
  };
  try {
    await c.kill([f]);
    ctx.log.write({
      type: 'start',
      kind: 'catchup',
      description: `kill follower ${f} (applied ${before})`,
      nodes: [f],
    });
    await compactPast(ctx, f, before, 25_000, members);
    const compactedTo = ((await c.groupStatus(l.leader))?.firstIndex ?? 1) - 1;
    c.restart([f]);
    down.delete(f);
    const heard = await waitHearsLeader(ctx, f, 15_000);
    if (heard === null) throw new Error(`node ${f} did not hear from a leader within 15 s of its restart`);
    await sleep(ctx.rng.int(0, 150));
    const leaderNow = (await c.leader())?.leader ?? l.leader;
    const target = victim === 'leader' && leaderNow !== f ? leaderNow : f;
    const at = (await c.groupStatus(f, 200))?.applied ?? null;
    await c.kill([target]);
    down.add(target);
    const mid = at !== null && at < compactedTo;
    ctx.log.write({
      type: 'instant',
      kind: 'catchup',
      description: `kill ${target === f ? 'the catching-up follower' : 'the leader'} ${target}: ${
        mid
          ? `mid catch-up (node ${f} applied ${at} < compaction point ${compactedTo})`
          : `after node ${f} caught up (applied ${at ?? '?'})`
      }`,
      nodes: [target],
    });
    await sleep(ctx.rng.int(500, 2000));
    c.restart([target]);
    down.delete(target);
    const ms = await waitCaughtUp(ctx, f, 30_000);
    ctx.log.write(
      ms === null && ctx.signal.aborted
        ? { type: 'instant', kind: 'catchup', description: `the run ended before node ${f} caught up`, nodes: [f] }
        : ms === null
          ? { type: 'error', kind: 'catchup', description: `node ${f} did not catch up within 30 s`, error: 'lagging' }
          : {
              type: 'instant',
              kind: 'catchup',
              description: `node ${f} caught up ${ms} ms after the restart`,
              nodes: [f],
            },
    );
    // Every other shard the node hosts too (informational: the placement driver may be moving one off it).
    const shards = ms === null ? null : await waitShardsCaughtUp(ctx, f, 15_000);
    if (shards !== null)
      ctx.log.write({
        type: 'instant',
        kind: 'catchup',
        description:
          shards.behind.length === 0
            ? `node ${f} caught up on all ${shards.caughtUp} shard(s) it hosts (${shards.ms} ms more)`
            : `node ${f} caught up on ${shards.caughtUp} shard(s); groups ${shards.behind.join(',')} still behind after ${shards.ms} ms`,
        nodes: [f],
      });
  } catch (e) {
    ctx.log.write({ type: 'error', kind: 'catchup', description: 'catchup', error: errText(e) });
  }
  return undo;
}
