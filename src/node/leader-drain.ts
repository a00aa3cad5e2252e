/**
 * Leader drain (issue 11, "Rolling restarts and upgrades"): moves every leadership off this node before it
 * stops, so that a graceful restart costs the cluster a handover per group (TimeoutNow to a caught-up voter:
 * no election timeout, no lost lease) instead of an election timeout per group.
 *
 * - drainLeaders(host, options) repeats rounds until the node leads nothing or its budget is spent: each
 *   round transfers every group the node leads (at most DRAIN_CONCURRENCY at once) to the voter chosen by
 *   pickLeaderTarget: the most caught-up voter heard from within the election timeout (ties: lowest id).
 *   A group whose leadership comes back (an election it won, a balancing move) is moved again next round.
 *   Always settles by the deadline (every transfer wait is bounded by what is left of it) and never throws:
 *   the result says what is left. It returns early when no group it leads has a live voter to take over
 *   (a single-node cluster, or every other voter down): nothing would change by waiting.
 * - refusesLeadership(messages) is the inbound filter a draining node puts on its transport (see
 *   server/tessera-node.ts): it drops TimeoutNow, so a leader's transfer to this node (the placement driver's
 *   leader balancing runs on the meta leader and may pick a drained node) never makes it campaign. The
 *   sending leader aborts its transfer after an election timeout and keeps leading; votes, appends and
 *   heartbeats pass, so the node still follows, votes and replicates. Elections it would win by timeout are
 *   not blocked (that would cost availability); the next round moves such a leadership off again.
 * Invariants: the node's Raft state is only changed through NodeHost.transferLeader; the loop is bounded in
 * time (budgetMs) and in rounds (ROUNDS_MAX).
 */
import type { GroupId, NodeId } from '../base';
import { decodeRaftMessage } from '../codec';
import type { Logger } from '../obs';
import type { GroupStatusInfo, MemberInfo } from './types';

/** Transfers running at once during a drain. */
export const DRAIN_CONCURRENCY = 16;
/** Rounds of one drain at most (each round waits at least ROUND_PAUSE_MS when something is left). */
const ROUNDS_MAX = 10_000;
const ROUND_PAUSE_MS = 20;

/** What a drain needs of the node (NodeHost has all of it). */
export interface LeaderDrainHost {
  readonly nodeId: NodeId;
  groupIds(): GroupId[];
  groupStatus(groupId: GroupId): GroupStatusInfo;
  /** When each peer was last heard from (performance.now() ms). */
  peersHeardMs(): Map<NodeId, number>;
  transferLeader(groupId: GroupId, to: NodeId, timeoutMs: number): Promise<NodeId>;
}

export interface LeaderDrainOptions {
  /** The whole drain's budget (ms); 0 returns at once with what the node leads. */
  budgetMs: number;
  /** A peer heard from within this long is live (a transfer target); also bounds one transfer's wait. */
  electionMs: number;
  logger: Logger;
  /** Monotonic ms; default performance.now. */
  nowMs?: () => number;
}

export interface LeaderDrainResult {
  /** true when the node led no group at the end. */
  ok: boolean;
  /** Transfers that completed. */
  moved: number;
  /** Groups still led at the end (empty when ok). */
  remaining: GroupId[];
  elapsedMs: number;
}

/**
 * The voter to hand a group's leadership to: a voter other than `self` that is live and has acknowledged
 * something, with the highest match index (ties: lowest id); null when there is none.
 */
export function pickLeaderTarget(
  members: readonly MemberInfo[],
  self: NodeId,
  isLive: (id: NodeId) => boolean,
): NodeId | null {
  let best: MemberInfo | null = null;
  for (const m of members) {
    if (m.id === self || !m.voter || m.match <= 0 || !isLive(m.id)) continue;
    if (best === null || m.match > best.match || (m.match === best.match && m.id < best.id)) best = m;
  }
  return best === null ? null : best.id;
}

/** The groups this node leads now. */
export function ledGroups(host: LeaderDrainHost): GroupId[] {
  const out: GroupId[] = [];
  for (const id of host.groupIds()) {
    try {
      if (host.groupStatus(id).role === 'leader') out.push(id);
    } catch {
      // The group closed meanwhile (a replica destroyed): it leads nothing.
    }
  }
  return out;
}

/** Moves every leadership off the node (see the header); resolves by the deadline, never rejects. */
export async function drainLeaders(host: LeaderDrainHost, options: LeaderDrainOptions): Promise<LeaderDrainResult> {
  const now = options.nowMs ?? (() => performance.now());
  const t0 = now();
  const deadline = t0 + Math.max(0, options.budgetMs);
  let moved = 0;
  const failures = new Map<GroupId, string>();
  for (let round = 0; round < ROUNDS_MAX; round++) {
    const led = ledGroups(host);
    if (led.length === 0 || now() >= deadline) break;
    const heard = host.peersHeardMs();
    const at = now();
    const isLive = (id: NodeId): boolean => {
      const t = heard.get(id);
      return t !== undefined && at - t <= options.electionMs;
    };
    const queue = [...led];
    let anyTarget = false;
    const worker = async (): Promise<void> => {
      for (let g = queue.shift(); g !== undefined; g = queue.shift()) {
        const left = deadline - now();
        if (left <= 0) return;
        const outcome = await moveOne(host, g, isLive, Math.min(left, options.electionMs * 2));
        if (outcome !== NO_TARGET) anyTarget = true;
        if (outcome === null) {
          moved++;
          failures.delete(g);
        } else failures.set(g, outcome);
      }
    };
    await Promise.all(Array.from({ length: Math.min(DRAIN_CONCURRENCY, queue.length) }, worker));
    // No group it leads has a live voter to take over (a single-node cluster, the others down): waiting is useless.
    if (!anyTarget) break;
    const pause = Math.min(ROUND_PAUSE_MS, deadline - now());
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
  }
  const remaining = ledGroups(host);
  const result = { ok: remaining.length === 0, moved, remaining, elapsedMs: Math.round(now() - t0) };
  if (result.ok) options.logger.info({ moved, elapsedMs: result.elapsedMs }, 'leader drain: this node leads nothing');
  else
    options.logger.warn(
      {
        moved,
        remaining: remaining.slice(0, 32),
        elapsedMs: result.elapsedMs,
        reasons: [...failures].slice(0, 8).map(([g, why]) => `${g}: ${why}`),
      },
      `leader drain: still leading ${remaining.length} group(s) after ${result.elapsedMs} ms (budget ${options.budgetMs} ms); their followers elect a new leader after this node stops`,
    );
  return result;
}

const NO_TARGET = 'no live voter to hand leadership to';

/** One transfer; null when it completed, else why not (NO_TARGET: nobody to hand it to). */
async function moveOne(
  host: LeaderDrainHost,
  groupId: GroupId,
  isLive: (id: NodeId) => boolean,
  timeoutMs: number,
): Promise<string | null> {
  let status: GroupStatusInfo;
  try {
    status = host.groupStatus(groupId);
  } catch (e) {
    return (e as Error).message;
  }
  if (status.role !== 'leader') return null;
  const to = pickLeaderTarget(status.members, host.nodeId, isLive);
  if (to === null) return NO_TARGET;
  try {
    await host.transferLeader(groupId, to, timeoutMs);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * The inbound filter of a draining node: the messages without TimeoutNow (see the header). A message that
 * does not decode is kept (the node's own checks drop and count it).
 */
export function refusesLeadership(messages: Buffer[]): Buffer[] {
  let out: Buffer[] | null = null;
  for (let i = 0; i < messages.length; i++) {
    const buf = messages[i] as Buffer;
    let timeoutNow = false;
    try {
      timeoutNow = decodeRaftMessage(buf).message.type === 'timeoutNow';
    } catch {
      timeoutNow = false;
    }
    if (timeoutNow && out === null) out = messages.slice(0, i);
    else if (!timeoutNow && out !== null) out.push(buf);
  }
  return out ?? messages;
}
