/**
 * The `split` nemesis: a manual split of the shard owning a workload key, at that key (issue 10), as an
 * operator's `tessera shard split KEY` does it: Admin.SplitShard to the leader of the workload's group
 * (or any live node when none is known), following NOT_LEADER hints (tessera-leader-id, else
 * tessera-leader-address) to the leader of the owning shard. When a node hosts no replica of that shard
 * (WRONG_SHARD: more nodes than replicas), a member not asked yet is asked next, drawn from the rng.
 *
 * A split that does not happen (no leader, a NOT_LEADER chain longer than `hopsMax`, no answer in time, an
 * existing boundary refused with INVALID_ARGUMENT) throws an Error that says why; the runner logs it to
 * nemesis.jsonl and goes on. Under faults these are expected, never fatal.
 *
 * Invariants: at most hopsMax + 1 calls (hints and WRONG_SHARD redirections together), each with a
 * deadline, so a split settles within about (hopsMax + 1) * callTimeoutMs; every channel it opens is closed before it settles.
 */
import * as grpc from '@grpc/grpc-js';
import type { Random } from '../../src/base';
import type { LeaderInfo } from '../cluster/cluster';
import { callSplit, describeSpan, printableKey, type ShardSpan } from './split-call';

export interface SplitCluster {
  readonly ids: number[];
  readonly removed: Set<number>;
  leader(): Promise<LeaderInfo | null>;
  /** The node's real client address (the operator's channel, outside the faulty test network). */
  network: { nodeAddress(id: number): string };
}

export interface SplitOptions {
  /** NOT_LEADER hints followed at most (a longer chain is given up). */
  hopsMax: number;
  callTimeoutMs: number;
  /** The node asked first (default: the workload group's leader, else a random member). */
  from?: number;
}

export const defaultSplitOptions: SplitOptions = { hopsMax: 3, callTimeoutMs: 5000 };

export interface SplitDone {
  left: ShardSpan;
  right: ShardSpan;
  /** The nodes asked, in order (the last one split). */
  via: number[];
}

/** The node to ask first: the one given, the workload group's leader, or a random member. */
async function firstNode(c: SplitCluster, rng: Random, from: number | undefined): Promise<number> {
  if (from !== undefined) return from;
  const l = await c.leader();
  if (l) return l.leader;
  const members = c.ids.filter((i) => !c.removed.has(i));
  if (members.length === 0) throw new Error('no member to ask');
  return rng.pick(members);
}

/** Splits the shard owning `key` at `key`; resolves to the two shards, or throws why it did not happen. */
export async function splitAt(
  c: SplitCluster,
  key: Buffer,
  rng: Random,
  opts: SplitOptions = defaultSplitOptions,
): Promise<SplitDone> {
  const channels = new Map<string, grpc.Client>();
  const channel = (address: string): grpc.Client => {
    let ch = channels.get(address);
    if (!ch) channels.set(address, (ch = new grpc.Client(address, grpc.credentials.createInsecure())));
    return ch;
  };
  const via: number[] = [];
  const what = (): string => `split at ${printableKey(key)} via ${via.join(' -> ')}`;
  try {
    let node = await firstNode(c, rng, opts.from);
    let address = c.network.nodeAddress(node);
    for (;;) {
      via.push(node);
      const a = await callSplit(channel(address), key, opts.callTimeoutMs);
      if (a.ok) return { left: a.left, right: a.right, via };
      const said = `${a.code}${a.reason ? ` (${a.reason})` : ''}: ${a.detail}`;
      const untried = c.ids.filter((i) => !c.removed.has(i) && !via.includes(i));
      if (a.reason === 'WRONG_SHARD' && untried.length > 0 && via.length <= opts.hopsMax) {
        // This node hosts no replica of the owning shard (more nodes than replicas): ask another member.
        node = rng.pick(untried);
        address = c.network.nodeAddress(node);
        continue;
      }
      if (a.reason !== 'NOT_LEADER') throw new Error(`${what()}: ${said}`);
      if (via.length > opts.hopsMax) throw new Error(`${what()}: NOT_LEADER chain longer than ${opts.hopsMax} hops`);
      const next = a.leaderId;
      if (next === null) throw new Error(`${what()}: NOT_LEADER with no leader known (${a.detail})`);
      const hinted = c.ids.includes(next) ? c.network.nodeAddress(next) : a.leaderAddress;
      if (hinted === null) throw new Error(`${what()}: NOT_LEADER names node ${next}, whose address is unknown`);
      node = next;
      address = hinted;
    }
  } finally {
    for (const ch of channels.values()) ch.close();
  }
}

/** The nemesis.jsonl line of a split that happened. */
export function describeSplit(key: Buffer, d: SplitDone): string {
  return `split at ${printableKey(key)} via ${d.via.join(' -> ')}: ${describeSpan(d.left)} + ${describeSpan(d.right)}`;
}
