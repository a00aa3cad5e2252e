/**
 * `tessera node drain-leaders ID [--wait-ms N]`: moves every leadership off node ID (before an operator stops
 * it for a restart or an upgrade) and returns once the node leads nothing. The node keeps its replicas.
 *
 * Rounds, until node ID's own Status shows it leads no group (meta shard included) or --wait-ms passed:
 * each group it leads is handed (Admin.TransferLeader, reaching the group's leader through NOT_LEADER hints)
 * to the voter the leader reports most caught up among the nodes the registry has up (ties: lowest id), at
 * most TRANSFERS_AT_ONCE at a time. A leadership that comes back meanwhile (the placement driver balances
 * leaders) is moved again the next round. `tessera start` does the same by itself on SIGTERM
 * (--shutdown-drain-ms, server/shutdown-drain.ts), refusing new leaderships until it exits.
 * Exit 0 when the node leads nothing; 3 (EXIT_UNAVAILABLE) when it still leads groups at the deadline or
 * cannot be reached; the message names what is left and why.
 */
import type { Client, GroupStatus, Member } from '../../src/client';
import { EXIT_OK, EXIT_UNAVAILABLE, json } from './args';
import type { GlobalOptions, Io } from './args';

/** Transfers in flight at once. */
const TRANSFERS_AT_ONCE = 8;
/** Pause between rounds while leaderships are left. */
const ROUND_PAUSE_MS = 200;
/** Budget of one Status or TransferLeader call. */
const CALL_MS_MAX = 5000;

/** The voter to hand a group to: live, not `self`, has acknowledged something, highest match (ties: lowest id). */
export function leaderTarget(members: readonly Member[], self: number, live: (id: number) => boolean): number | null {
  let best: Member | null = null;
  for (const m of members) {
    if (m.id === self || !m.voter || m.match <= 0 || !live(m.id)) continue;
    if (best === null || m.match > best.match || (m.match === best.match && m.id < best.id)) best = m;
  }
  return best === null ? null : best.id;
}

interface NodeView {
  address: string;
  /** Nodes the registry has up (null: the registry did not answer; every member counts as live). */
  up: Set<number> | null;
}

async function findNode(c: Client, g: GlobalOptions, id: number): Promise<NodeView | string> {
  try {
    const nodes = await c.listNodes({ deadlineMs: Math.min(g.deadlineMs, CALL_MS_MAX) });
    const node = nodes.find((n) => n.id === id);
    if (node === undefined) return `node ${id} is not in the cluster's registry (tessera node list)`;
    return { address: node.address, up: new Set(nodes.filter((n) => n.state === 'up').map((n) => n.id)) };
  } catch (e) {
    return `cannot read the node registry: ${(e as Error).message}`;
  }
}

/** The groups node `id` leads, by its own Status. */
async function ledBy(c: Client, address: string, id: number): Promise<GroupStatus[]> {
  const st = await c.status({ endpoint: address, deadlineMs: CALL_MS_MAX });
  return st.groups.filter((s) => s.leader === id && s.role === 'leader');
}

/** One round: transfers every group in `led`; returns why some could not move (by group). */
async function transferRound(
  c: Client,
  led: GroupStatus[],
  id: number,
  view: NodeView,
  leftMs: number,
): Promise<Map<number, string>> {
  const why = new Map<number, string>();
  const live = (n: number): boolean => view.up === null || view.up.has(n);
  const queue = [...led];
  const worker = async (): Promise<void> => {
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
      const to = leaderTarget(s.members, id, live);
      if (to === null) {
        why.set(s.groupId, 'no caught-up voter that is up');
        continue;
      }
      try {
        await c.transferLeader(to, { groupId: s.groupId, deadlineMs: Math.max(1, Math.min(leftMs, CALL_MS_MAX)) });
      } catch (e) {
        why.set(s.groupId, (e as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(TRANSFERS_AT_ONCE, queue.length) }, worker));
  return why;
}

/** The command (see the header). */
export async function drainLeadersCommand(c: Client, g: GlobalOptions, io: Io, id: number, waitMs: number) {
  const t0 = Date.now();
  const deadline = t0 + waitMs;
  const view = await findNode(c, g, id);
  if (typeof view === 'string') {
    io.err(`tessera node drain-leaders: ${view}`);
    return EXIT_UNAVAILABLE;
  }
  let why = new Map<number, string>();
  let led: GroupStatus[] = [];
  let lastCount = -1;
  for (let round = 0; ; round++) {
    try {
      led = await ledBy(c, view.address, id);
    } catch (e) {
      io.err(`tessera node drain-leaders: node ${id} at ${view.address} does not answer: ${(e as Error).message}`);
      return EXIT_UNAVAILABLE;
    }
    if (led.length === 0) break;
    if (!g.json && led.length !== lastCount) io.out(`node ${id}: ${led.length} leadership(s) left`);
    lastCount = led.length;
    if (Date.now() >= deadline || round >= 100_000) {
      const groups = led.map((s) => s.groupId);
      const reasons = [...why].slice(0, 4).map(([gid, text]) => `group ${gid}: ${text}`);
      io.err(
        `node ${id} still leads ${led.length} group(s) (${groups.slice(0, 16).join(', ')}) after ${waitMs} ms${reasons.length > 0 ? `; ${reasons.join('; ')}` : ''}`,
      );
      return EXIT_UNAVAILABLE;
    }
    why = await transferRound(c, led, id, view, deadline - Date.now());
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(ROUND_PAUSE_MS, deadline - Date.now()))));
  }
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  io.out(
    g.json
      ? json({ id, leaders: 0, ms: Date.now() - t0 })
      : `node ${id} leads nothing (${seconds} s); stop it now, its groups keep their leaders`,
  );
  return EXIT_OK;
}
