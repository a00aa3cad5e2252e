/**
 * The `membership` nemesis's away variant: stop a follower, change the membership while it is away
 * (remove it; with 5 nodes or more also remove and re-add another follower, whose address then changes),
 * write ballast until the others compact past it, bring it back on its old data and re-add it through the
 * leader. It can only learn the new membership (and the addresses in it) from a snapshot.
 *
 * Invariants: every change is legal under the membership guard (only the stopped node, or one more
 * follower when enough voters stay live, is removed); a node this removes and could not re-add stays in
 * `removed` for the final recovery; the stopped node is restarted before this resolves; bounded (about
 * 90 s at most).
 */
import type { AwayContext } from './away';
import {
  appliedBefore,
  awaitLeader,
  membersCaughtUp,
  compactPast,
  errText,
  pickFollower,
  sleep,
  waitCaughtUp,
  workloadMembers,
} from './away';

/** Re-adds `id` through the current leader, retrying (a voter is promoted only once it caught up). */
async function readd(ctx: AwayContext, id: number, budgetMs: number): Promise<void> {
  const end = Date.now() + budgetMs;
  let last: unknown = null;
  while (Date.now() < end && !ctx.signal.aborted) {
    const l = await ctx.cluster.leader();
    if (l) {
      try {
        await ctx.cluster.addMember(l.leader, id, l.groupId);
        ctx.log.write({
          type: 'stop',
          kind: 'membership',
          description: `re-add node ${id} (via leader ${l.leader})`,
          nodes: [id],
        });
        return;
      } catch (e) {
        last = e;
      }
    }
    await sleep(300);
  }
  const why = ctx.signal.aborted ? 'the run ended' : `not within ${budgetMs} ms (${errText(last)})`;
  throw new Error(`could not re-add node ${id}: ${why}; left for the final recovery`);
}

async function removeVia(ctx: AwayContext, id: number, why: string): Promise<void> {
  const l = await ctx.cluster.leader();
  if (!l) throw new Error(`no leader to remove node ${id} through`);
  await ctx.cluster.removeMember(l.leader, id, l.groupId);
  ctx.log.write({
    type: 'start',
    kind: 'membership',
    description: `remove node ${id} ${why} (via leader ${l.leader})`,
    nodes: [id],
  });
}

/**
 * With 5+ nodes, once `x` is back: kill every member but x, y and one more (the leader among the killed),
 * so the live majority holds the node that caught up by snapshot and the one re-added while it was away;
 * it must elect a leader within 20 s (it cannot if x never learned the others' addresses). Restarts them.
 */
async function majorityOfNewcomers(ctx: AwayContext, x: number, y: number): Promise<void> {
  const c = ctx.cluster;
  const l = await c.leader();
  const rest = c.ids.filter((i) => i !== x && i !== y && !c.removed.has(i));
  if (rest.length === 0) return;
  const keep = ctx.rng.pick(rest.filter((i) => i !== l?.leader).concat(rest.length === 1 ? rest : []));
  const victims = rest.filter((i) => i !== keep);
  const live = [x, y, keep].sort((a, b) => a - b);
  if (victims.length === 0 || live.length <= victims.length) return;
  await c.kill(victims);
  ctx.log.write({
    type: 'start',
    kind: 'membership',
    description: `kill ${victims.join(',')}: majority ${live.join(',')} must elect a leader`,
    nodes: victims,
  });
  try {
    const start = Date.now();
    let leader = null;
    const electMs = ctx.electMs ?? 20_000;
    while (!leader && Date.now() - start < electMs && !ctx.signal.aborted) {
      const got = await c.leader();
      if (got && live.includes(got.leader)) leader = got;
      else await sleep(200);
    }
    if (leader)
      ctx.log.write({
        type: 'instant',
        kind: 'membership',
        check: 'ok',
        description: `majority ${live.join(',')} elected node ${leader.leader} in ${Date.now() - start} ms`,
        nodes: live,
      });
    else if (!ctx.signal.aborted)
      ctx.log.write({
        type: 'error',
        kind: 'membership',
        check: 'failed',
        description: `majority ${live.join(',')} elected no leader within ${electMs / 1000} s`,
        error: 'no leader',
        nodes: live,
      });
  } finally {
    c.restart(victims);
    ctx.log.write({ type: 'stop', kind: 'membership', description: `restart ${victims.join(',')}`, nodes: victims });
  }
}

/** Runs the whole fault; resolves to its undo (restarts the stopped node if it is still down). */
export async function runMembershipAway(ctx: AwayContext): Promise<() => Promise<void>> {
  const c = ctx.cluster;
  const l = await awaitLeader(ctx);
  if (!l) throw new Error('no leader to change membership through within 15 s');
  await membersCaughtUp(ctx, l.leader);
  // Replicas of the workload's shard only (the membership changes below are that shard's).
  const members = await workloadMembers(c, l.leader);
  const x = pickFollower(c, l.leader, ctx.rng, [], members);
  if (x === null) throw new Error('no follower to stop');
  const before = await appliedBefore(ctx, x, l.leader);
  let down = true;
  const undo = async (): Promise<void> => {
    if (down) c.restart([x]);
    down = false;
  };
  try {
    await c.kill([x]);
    ctx.log.write({ type: 'start', kind: 'membership', description: `stop node ${x} (applied ${before})`, nodes: [x] });
    await removeVia(ctx, x, 'while it is stopped');
    // With 5 or more members a second live follower can leave and come back (its address changes).
    const live = (members ?? c.ids).filter((i) => i !== x && !c.removed.has(i)).length;
    const y = live >= 4 ? pickFollower(c, l.leader, ctx.rng, [x], members) : null;
    if (y !== null) {
      await removeVia(ctx, y, 'while another is stopped');
      await readd(ctx, y, 20_000);
    }
    await compactPast(ctx, x, before, 25_000, members);
    c.restart([x]);
    down = false;
    ctx.log.write({
      type: 'instant',
      kind: 'membership',
      description: `restart node ${x} on its old data`,
      nodes: [x],
    });
    await readd(ctx, x, 40_000);
    const ms = await waitCaughtUp(ctx, x, 20_000);
    if (y !== null && ms !== null) await majorityOfNewcomers(ctx, x, y);
    if (ms === null && !ctx.signal.aborted)
      ctx.log.write({
        type: 'error',
        kind: 'membership',
        description: `node ${x} did not catch up within 20 s`,
        error: 'lagging',
      });
  } catch (e) {
    ctx.log.write({ type: 'error', kind: 'membership', description: 'membership away', error: errText(e) });
  }
  return undo;
}
