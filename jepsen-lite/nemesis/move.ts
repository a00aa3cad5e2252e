/**
 * The `move` nemesis (issue 10): replica moves and leader moves of a data shard, as an operator's
 * `tessera shard move SHARD --from N --to M` and a leadership transfer make them. One step:
 *   1. Admin.ListShards of a live node (running, not removed; up to three are asked in a seeded order);
 *   2. a shard drawn from its answer (data shards only: the node lists no meta shard);
 *   3. chooseMove: with some live node that holds no replica of it, Admin.MoveReplica {shard, from a random
 *      voter, to such a node} (waited for); when every live node holds one (3 nodes, 3 replicas), or when
 *      the plan asked for a leader move, Admin.TransferLeader {group_id: the shard, to another live voter};
 *   4. the call goes to the shard's leader as listed (else a live replica), following NOT_LEADER hints
 *      (tessera-leader-id, else tessera-leader-address) `hopsMax` hops at most.
 *
 * Outcomes: done; indeterminate (no answer within the deadline: the move may have happened, or may still:
 * logged as such, never a failure); refused (no live node answered the list, no shard, nobody to move to, a
 * refusal, a hint chain too long): an Error saying why, which the runner logs to nemesis.jsonl and goes on.
 *
 * Invariants: a bounded number of calls (3 lists + hopsMax + 1 moves), each with a deadline, so a step
 * settles within about 3 * listTimeoutMs + (hopsMax + 1) * moveTimeoutMs; every channel opened is closed
 * before it settles; every random choice comes from the given (seeded) rng.
 */
import type { Random } from '../../src/base';
import { callAdmin, ChannelPool, describeRefusal, isIndeterminate, localRefusal, type AdminAnswer } from './admin-call';
import { describeSpan, type ShardSpan } from './split-call';

export interface MoveCluster {
  readonly ids: number[];
  readonly removed: Set<number>;
  node(id: number): { readonly state: string };
  /** The node's real client address (the operator's channel, outside the faulty test network). */
  network: { nodeAddress(id: number): string };
}

/** The plan's draw: a replica move (a leader move when no live node is free), or a leader move. */
export type MovePreference = 'replica' | 'leader';

export interface MoveOptions {
  /** NOT_LEADER hints followed at most. */
  hopsMax: number;
  listTimeoutMs: number;
  /** MoveReplica waits until the move is done: learner added, caught up, promoted, old replica removed. */
  moveTimeoutMs: number;
  transferTimeoutMs: number;
}

export const defaultMoveOptions: MoveOptions = {
  hopsMax: 3,
  listTimeoutMs: 2000,
  moveTimeoutMs: 8000,
  transferTimeoutMs: 5000,
};

export interface ShardView extends ShardSpan {
  replicas: { id: number; voter: boolean }[];
  /** 0: unknown. */
  leader: number;
}

export type MoveChoice =
  { action: 'move-replica'; from: number; to: number } | { action: 'transfer-leader'; from: number; to: number };

export interface MoveDone {
  action: MoveChoice['action'];
  shard: ShardView;
  from: number;
  to: number;
  /** The nodes asked for the move, in order (the last one answered). */
  via: number[];
  /** Null: done; else why its outcome is unknown (no answer in time). */
  indeterminate: string | null;
  /** What the node answered (the members after a move, the new leader). */
  result: string;
}

/** Running nodes that are members (not removed by the membership nemesis). */
export const liveNodes = (c: MoveCluster): number[] =>
  c.ids.filter((i) => !c.removed.has(i) && c.node(i).state === 'running');

/**
 * What to do with `shard` (pure but for the rng): a replica move from a random voter to a random live node
 * holding no replica; else (or when a leader move is preferred) leadership to a random live voter other than
 * the leader; null when neither is possible.
 */
export function chooseMove(
  shard: ShardView,
  live: readonly number[],
  rng: Random,
  prefer: MovePreference,
): MoveChoice | null {
  const holders = new Set(shard.replicas.map((r) => r.id));
  const voters = shard.replicas.filter((r) => r.voter).map((r) => r.id);
  const free = live.filter((n) => !holders.has(n));
  const heirs = voters.filter((v) => v !== shard.leader && live.includes(v));
  const replicaMove = (): MoveChoice => ({ action: 'move-replica', from: rng.pick(voters), to: rng.pick(free) });
  const leaderMove = (): MoveChoice => ({ action: 'transfer-leader', from: shard.leader, to: rng.pick(heirs) });
  const canMove = free.length > 0 && voters.length > 0;
  if (prefer === 'replica') return canMove ? replicaMove() : heirs.length > 0 ? leaderMove() : null;
  return heirs.length > 0 ? leaderMove() : canMove ? replicaMove() : null;
}

interface WireShard {
  id?: number;
  start?: Uint8Array;
  end?: Uint8Array;
  epoch?: number;
  replicas?: { id?: number; voter?: boolean }[];
  leader?: number;
}

const shardView = (s: WireShard): ShardView => ({
  id: Number(s.id ?? 0),
  start: Buffer.from(s.start ?? []),
  end: Buffer.from(s.end ?? []),
  epoch: Number(s.epoch ?? 0),
  replicas: (s.replicas ?? []).map((r) => ({ id: Number(r.id ?? 0), voter: r.voter === true })),
  leader: Number(s.leader ?? 0),
});

/** The shards listed by the first of `ask` that answers. */
async function listShards(
  pool: ChannelPool,
  c: MoveCluster,
  ask: readonly number[],
  timeoutMs: number,
): Promise<{ node: number; shards: ShardView[] }> {
  const said: string[] = [];
  for (const node of ask) {
    const a = await callAdmin<{ shards?: WireShard[] }>(
      pool.get(c.network.nodeAddress(node)),
      'ListShards',
      {},
      timeoutMs,
    );
    if (a.ok) return { node, shards: (a.value.shards ?? []).map(shardView).filter((s) => s.id > 0) };
    said.push(`node ${node}: ${describeRefusal(a)}`);
  }
  throw new Error(`no live node listed its shards (${said.join('; ') || 'none to ask'})`);
}

/**
 * `call` on `first`, then on each node a NOT_LEADER names, `hopsMax` hops at most. Resolves to the last
 * answer (a NOT_LEADER with no usable hint, or past the bound, becomes a local refusal saying so).
 */
export async function viaLeader<T>(
  pool: ChannelPool,
  c: { readonly ids: number[]; network: { nodeAddress(id: number): string } },
  first: number,
  hopsMax: number,
  call: (channel: ReturnType<ChannelPool['get']>) => Promise<AdminAnswer<T>>,
): Promise<{ answer: AdminAnswer<T>; via: number[] }> {
  const via: number[] = [];
  let node = first;
  let address = c.network.nodeAddress(first);
  for (;;) {
    via.push(node);
    const answer = await call(pool.get(address));
    if (answer.ok || answer.reason !== 'NOT_LEADER') return { answer, via };
    if (via.length > hopsMax)
      return { answer: localRefusal('NOT_LEADER', `NOT_LEADER chain longer than ${hopsMax} hops`), via };
    const next = answer.leaderId;
    if (next === null) return { answer: localRefusal('NOT_LEADER', `no leader known (${answer.detail})`), via };
    const hinted = c.ids.includes(next) ? c.network.nodeAddress(next) : answer.leaderAddress;
    if (hinted === null) return { answer: localRefusal('NOT_LEADER', `node ${next}'s address is unknown`), via };
    node = next;
    address = hinted;
  }
}

const members = (ms: { id?: number; voter?: boolean }[] | undefined): string =>
  (ms ?? []).map((m) => `${m.id ?? 0}${m.voter === false ? ' (learner)' : ''}`).join(', ');

/** One move step (see the header); resolves to what happened, or throws why nothing did. */
export async function moveStep(
  c: MoveCluster,
  rng: Random,
  prefer: MovePreference,
  opts: MoveOptions = defaultMoveOptions,
): Promise<MoveDone> {
  const pool = new ChannelPool();
  try {
    const live = liveNodes(c);
    const listed = await listShards(pool, c, rng.shuffle([...live]).slice(0, 3), opts.listTimeoutMs);
    if (listed.shards.length === 0) throw new Error(`node ${listed.node} lists no data shard`);
    const shard = rng.pick(listed.shards);
    const choice = chooseMove(shard, live, rng, prefer);
    if (choice === null) throw new Error(`shard ${describeSpan(shard)}: no live node to move a replica or leader to`);
    const holders = shard.replicas.map((r) => r.id).filter((i) => live.includes(i));
    const first = live.includes(shard.leader) ? shard.leader : holders.length > 0 ? rng.pick(holders) : listed.node;
    const what = `${choice.action} of shard ${describeSpan(shard)} ${choice.from} -> ${choice.to}`;
    const { answer, via } =
      choice.action === 'move-replica'
        ? await viaLeader<string>(pool, c, first, opts.hopsMax, (ch) =>
            callAdmin<{ members?: { id?: number; voter?: boolean }[] }>(
              ch,
              'MoveReplica',
              { shardId: shard.id, from: choice.from, to: choice.to, noWait: false },
              opts.moveTimeoutMs,
            ).then((a) => (a.ok ? { ok: true as const, value: `members ${members(a.value.members)}` } : a)),
          )
        : await viaLeader<string>(pool, c, first, opts.hopsMax, (ch) =>
            callAdmin<{ leader?: number }>(
              ch,
              'TransferLeader',
              { groupId: shard.id, to: choice.to },
              opts.transferTimeoutMs,
            ).then((a) => (a.ok ? { ok: true as const, value: `leader ${a.value.leader ?? 0}` } : a)),
          );
    const done = { action: choice.action, shard, from: choice.from, to: choice.to, via };
    if (answer.ok) return { ...done, indeterminate: null, result: answer.value };
    if (isIndeterminate(answer)) return { ...done, indeterminate: describeRefusal(answer), result: '' };
    throw new Error(`${what} via ${via.join(' -> ')}: ${describeRefusal(answer)}`);
  } finally {
    pool.close();
  }
}

/** The nemesis.jsonl line of a move that was made (or whose outcome is unknown). */
export function describeMove(d: MoveDone): string {
  const what =
    d.action === 'move-replica'
      ? `move replica of shard ${describeSpan(d.shard)} from node ${d.from} to node ${d.to}`
      : `move leader of shard ${describeSpan(d.shard)} from node ${d.from || '?'} to node ${d.to}`;
  const outcome = d.indeterminate === null ? `done (${d.result})` : `indeterminate: ${d.indeterminate}`;
  return `${what} via ${d.via.join(' -> ')}: ${outcome}`;
}
