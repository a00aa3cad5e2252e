/**
 * The `restart` nemesis: graceful restarts, the way an operator upgrades a cluster. Each node in turn (a
 * seeded random order; `rolling: false`: one random node) gets SIGTERM, must exit 0 by itself within
 * RESTART_GRACE_MS (it first hands its leaderships over: --shutdown-drain-ms, server/shutdown-drain.ts), is
 * started again on its data dir, and must catch up (apply the leader's commit index of that moment) within
 * REJOIN_MS before the next one goes. In a sharded cluster that is every shard the node hosts, at its
 * leader's commit index: a node may host no replica of the workload's shard (the placement driver keeps 3
 * of 5 nodes in each), and comparing another group's applied index with that shard's commit never passed. Both are checks of the availability verdict: a node that needed the
 * SIGKILL, exited non-zero or did not rejoin fails the run.
 *
 * Invariants: one node down at a time; every node stopped here is started again before runRestart resolves
 * (the undo restarts it should a step throw); removed members are skipped; stop() (the abort signal) ends
 * the rolling once the node in hand is back; bounded: (grace + rejoin) per node.
 */
import type { Random } from '../../src/base';
import type { StopOutcome } from '../cluster/node-process';
import { errText, waitCaughtUp, waitShardsCaughtUp, type AwayCluster, type AwayContext } from './away';

/** Longest wait for a node to exit after SIGTERM before it is killed (and the check fails). */
export const RESTART_GRACE_MS = 15_000;
/** Longest wait for a restarted node to catch up. */
export const REJOIN_MS = 20_000;

export interface RestartCluster extends AwayCluster {
  /** SIGTERM, SIGKILL after graceMs; resolves with how the process exited. */
  terminate(id: number, graceMs: number): Promise<StopOutcome>;
}

export type RestartContext = Omit<AwayContext, 'cluster'> & {
  cluster: RestartCluster;
  /** Overrides RESTART_GRACE_MS and REJOIN_MS (tests). */
  graceMs?: number;
  rejoinMs?: number;
};

/** The nodes to restart, in order: every member not removed (shuffled), or one of them. */
export function restartOrder(ids: readonly number[], removed: ReadonlySet<number>, rolling: boolean, rng: Random) {
  const members = rng.shuffle(ids.filter((i) => !removed.has(i)));
  return rolling ? members : members.slice(0, 1);
}

/** Whether a graceful stop went as it should: the process exited 0 by itself. */
export function exitedCleanly(o: StopOutcome): boolean {
  return o.wasRunning && !o.forced && o.code === 0;
}

/** How long node `id` took to catch up after its restart (see the header), or null when it did not in `budgetMs`. */
export async function restartedCaughtUp(ctx: AwayContext, id: number, budgetMs: number): Promise<number | null> {
  if (ctx.cluster.groupsStatus === undefined) return waitCaughtUp(ctx, id, budgetMs);
  const shards = await waitShardsCaughtUp(ctx, id, budgetMs);
  return shards !== null && shards.behind.length === 0 ? shards.ms : null;
}

/** Runs the whole fault (see the header); resolves to its undo (restarts whatever is still down). */
export async function runRestart(ctx: RestartContext, rolling: boolean): Promise<() => Promise<void>> {
  const c = ctx.cluster;
  const order = restartOrder(c.ids, c.removed, rolling, ctx.rng);
  const graceMs = ctx.graceMs ?? RESTART_GRACE_MS;
  const rejoinMs = ctx.rejoinMs ?? REJOIN_MS;
  if (order.length === 0) throw new Error('no member to restart');
  let down: number | null = null;
  const undo = async (): Promise<void> => {
    if (down === null) return;
    c.restart([down]);
    ctx.log.write({ type: 'stop', kind: 'restart', description: `start node ${down} again (undo)`, nodes: [down] });
    down = null;
  };
  try {
    for (const id of order) {
      if (ctx.signal.aborted) break;
      ctx.log.write({ type: 'start', kind: 'restart', description: `SIGTERM node ${id}`, nodes: [id] });
      down = id;
      const t0 = Date.now();
      const exit = await c.terminate(id, graceMs);
      const how = exit.forced ? `needed SIGKILL after ${graceMs} ms` : `code ${exit.code}, signal ${exit.signal}`;
      ctx.log.write({
        type: 'instant',
        kind: 'restart',
        description: `node ${id} stopped after SIGTERM in ${Date.now() - t0} ms (${how})`,
        nodes: [id],
        check: exitedCleanly(exit) ? 'ok' : 'failed',
      });
      c.restart([id]);
      down = null;
      const caughtUpMs = await restartedCaughtUp(ctx, id, rejoinMs);
      ctx.log.write({
        type: 'stop',
        kind: 'restart',
        description:
          caughtUpMs !== null
            ? `node ${id} started again and caught up in ${caughtUpMs} ms`
            : ctx.signal.aborted
              ? `node ${id} started again (the fault phase ended before it caught up)`
              : `node ${id} started again but did not catch up within ${rejoinMs} ms`,
        nodes: [id],
        check: caughtUpMs !== null || ctx.signal.aborted ? 'ok' : 'failed',
      });
    }
  } catch (e) {
    ctx.log.write({ type: 'error', kind: 'restart', description: 'rolling restart', error: errText(e) });
  }
  return undo;
}
