/**
 * The bodies of the Raft.Placement peer RPC (transport/placement-rpc.ts): what the placement driver on the
 * meta leader asks and what a node answers. Checksummed msgpack records (codec encodeRecord) of tuples:
 *   request  report  [1]
 *            gc      [3, shard, appliedMax]  destroy this node's stale replica of `shard` (stale-replicas.ts)
 *            act     [2, shard, epoch, kind (0 addLearner, 1 promoteLearner, 2 removeReplica, 3 transferLeader),
 *                     node (the target: the learner, the replica, the new leader), client, peer]
 *                     (client and peer: the target's addresses for addLearner, else '')
 *   answer   report  [1, nodeId, clusterId | null, sentAtMs, client, peer, groups]
 *                     group: [id, epoch, start, end | null, leader, term, isLeader, commit, members, applied]
 *                     (applied: the leader's applied index, else 0; absent in older reports: 0)
 *                     member: [node, voter, match] (match known only on the leader, else 0)
 *            act     [2, epoch after, members: [node, voter]]
 *            gc      [3, outcome]  (what the node did, for the log: 'destroying' or why not)
 * Everything decoded is hostile input: every field is checked (ids, bounded counts, key and address sizes)
 * and a defect is INVALID_ARGUMENT (a request) or UNAVAILABLE (an answer: the peer is treated as silent).
 */
import { TesseraError, isEpoch, isNodeId, isShardId, type Epoch, type NodeId, type ShardId } from '../base';
import {
  ShapeError,
  decodeRecord,
  encodeRecord,
  shapeArray,
  shapeBool,
  shapeBytes,
  shapeFail,
  shapeString,
  shapeUint,
} from '../codec';
import { isValidAddress } from '../transport';

/** Groups one report may list (a 4 MiB answer holds about 40,000 small ones). */
export const REPORT_GROUPS_MAX = 100_000;
/** Members of one group a report may list. */
export const REPORT_MEMBERS_MAX = 16;
/** Key bytes of a reported range bound (the meta shard's split keys are at most 64 KiB). */
export const REPORT_KEY_BYTES_MAX = 64 * 1024;

export type ActionKind = 'addLearner' | 'promoteLearner' | 'removeReplica' | 'transferLeader';
const KINDS: readonly ActionKind[] = ['addLearner', 'promoteLearner', 'removeReplica', 'transferLeader'];

export interface ActRequest {
  readonly shard: ShardId;
  readonly epoch: Epoch;
  readonly kind: ActionKind;
  /** The learner added, promoted or removed; the new leader. */
  readonly node: NodeId;
  /** The target's client and peer addresses (addLearner), else ''. */
  readonly client: string;
  readonly peer: string;
}

/** Destroy the receiving node's replica of `shard` if it applied at most `appliedMax` (stale-replicas.ts). */
export interface GcRequest {
  readonly shard: ShardId;
  readonly appliedMax: number;
}

export type PlacementRequest =
  { readonly type: 'report' } | ({ readonly type: 'act' } & ActRequest) | ({ readonly type: 'gc' } & GcRequest);

export interface ReportedMember {
  readonly node: NodeId;
  readonly voter: boolean;
  readonly match: number;
}

export interface ReportedGroup {
  readonly id: ShardId;
  readonly epoch: Epoch;
  readonly start: Buffer;
  readonly end: Buffer | null;
  /** NO_NODE (0) when unknown. */
  readonly leader: NodeId;
  readonly term: number;
  readonly isLeader: boolean;
  readonly commit: number;
  readonly members: readonly ReportedMember[];
  /** The leader's applied index (its configuration is the one of this index); 0 on a follower. */
  readonly applied?: number;
}

export interface NodeReport {
  readonly nodeId: NodeId;
  readonly clusterId: string | null;
  /** The reporter's clock, for display only. */
  readonly sentAtMs: number;
  /** Its client-facing and peer addresses ('' when unknown). */
  readonly client: string;
  readonly peer: string;
  readonly groups: readonly ReportedGroup[];
}

export interface ActAnswer {
  readonly epoch: Epoch;
  readonly members: readonly { readonly node: NodeId; readonly voter: boolean }[];
}

export function encodeRequest(r: PlacementRequest): Buffer {
  if (r.type === 'report') return encodeRecord([1]);
  if (r.type === 'gc') return encodeRecord([3, r.shard, r.appliedMax]);
  return encodeRecord([2, r.shard, r.epoch, KINDS.indexOf(r.kind), r.node, r.client, r.peer]);
}

/** Decodes a request from the network; TesseraError(INVALID_ARGUMENT) on any defect. */
export function decodeRequest(buf: Buffer): PlacementRequest {
  return shaped('INVALID_ARGUMENT', 'placement request', () => {
    const v = shapeArray(decodeRecord(buf, 'placement request'), 'request');
    if (v[0] === 1 && v.length === 1) return { type: 'report' };
    if (v[0] === 3 && v.length === 3)
      return { type: 'gc', shard: shardId(v[1]), appliedMax: shapeUint(v[2], 'appliedMax') };
    if (v[0] !== 2 || v.length !== 7) shapeFail('request: unknown shape');
    const kind = KINDS[shapeUint(v[3], 'action kind')];
    if (kind === undefined) shapeFail('action kind: unknown');
    const client = address(v[5], 'client address');
    const peer = address(v[6], 'peer address');
    if (kind === 'addLearner' && (client === '' || peer === '')) shapeFail('addLearner needs both addresses');
    return { type: 'act', shard: shardId(v[1]), epoch: epoch(v[2]), kind, node: nodeId(v[4]), client, peer };
  });
}

export function encodeReport(r: NodeReport): Buffer {
  const groups = r.groups.map((g) => [
    g.id,
    g.epoch,
    g.start,
    g.end,
    g.leader,
    g.term,
    g.isLeader,
    g.commit,
    g.members.map((m) => [m.node, m.voter, m.match]),
    g.applied ?? 0,
  ]);
  return encodeRecord([1, r.nodeId, r.clusterId, r.sentAtMs, r.client, r.peer, groups]);
}

/** Decodes a node's report; TesseraError(UNAVAILABLE) on any defect (the reporter counts as unheard). */
export function decodeReport(buf: Buffer): NodeReport {
  return shaped('UNAVAILABLE', 'placement report', () => {
    const v = shapeArray(decodeRecord(buf, 'placement report'), 'report');
    if (v[0] !== 1 || v.length !== 7) shapeFail('report: unknown shape');
    const clusterId = v[2] === null ? null : shapeString(v[2], 'cluster id');
    if (clusterId !== null && clusterId.length > 64) shapeFail('cluster id: too long');
    const groups = shapeArray(v[6], 'groups');
    if (groups.length > REPORT_GROUPS_MAX) shapeFail(`groups: more than ${REPORT_GROUPS_MAX}`);
    return {
      nodeId: nodeId(v[1]),
      clusterId,
      sentAtMs: shapeUint(v[3], 'sentAtMs'),
      client: address(v[4], 'client address'),
      peer: address(v[5], 'peer address'),
      groups: groups.map(decodeGroup),
    };
  });
}

function decodeGroup(x: unknown): ReportedGroup {
  const g = shapeArray(x, 'group');
  if (g.length !== 9 && g.length !== 10) shapeFail('group: unknown shape');
  const members = shapeArray(g[8], 'members');
  if (members.length > REPORT_MEMBERS_MAX) shapeFail(`members: more than ${REPORT_MEMBERS_MAX}`);
  return {
    id: shardId(g[0]),
    epoch: epoch(g[1]),
    start: key(g[2], 'start'),
    end: g[3] === null ? null : key(g[3], 'end'),
    leader: g[4] === 0 ? 0 : nodeId(g[4]),
    term: shapeUint(g[5], 'term'),
    isLeader: shapeBool(g[6], 'isLeader'),
    commit: shapeUint(g[7], 'commit'),
    applied: g.length === 10 ? shapeUint(g[9], 'applied') : 0,
    members: members.map((m) => {
      const t = shapeArray(m, 'member');
      if (t.length !== 3) shapeFail('member: unknown shape');
      return { node: nodeId(t[0]), voter: shapeBool(t[1], 'voter'), match: shapeUint(t[2], 'match') };
    }),
  };
}

/** The answer to a gc request: what the node did (bounded text). */
export function encodeGcAnswer(outcome: string): Buffer {
  return encodeRecord([3, outcome.slice(0, 200)]);
}

export function decodeGcAnswer(buf: Buffer): string {
  return shaped('UNAVAILABLE', 'placement gc answer', () => {
    const v = shapeArray(decodeRecord(buf, 'placement gc answer'), 'answer');
    if (v[0] !== 3 || v.length !== 2) shapeFail('answer: unknown shape');
    return shapeString(v[1], 'outcome').slice(0, 200);
  });
}

export function encodeActAnswer(a: ActAnswer): Buffer {
  return encodeRecord([2, a.epoch, a.members.map((m) => [m.node, m.voter])]);
}

/** Decodes an action's answer; TesseraError(UNAVAILABLE) on any defect. */
export function decodeActAnswer(buf: Buffer): ActAnswer {
  return shaped('UNAVAILABLE', 'placement action answer', () => {
    const v = shapeArray(decodeRecord(buf, 'placement action answer'), 'answer');
    if (v[0] !== 2 || v.length !== 3) shapeFail('answer: unknown shape');
    const members = shapeArray(v[2], 'members');
    if (members.length > REPORT_MEMBERS_MAX) shapeFail(`members: more than ${REPORT_MEMBERS_MAX}`);
    return {
      epoch: epoch(v[1]),
      members: members.map((m) => {
        const t = shapeArray(m, 'member');
        if (t.length !== 2) shapeFail('member: unknown shape');
        return { node: nodeId(t[0]), voter: shapeBool(t[1], 'voter') };
      }),
    };
  });
}

/** Runs a decoder; a shape defect or an undecodable record becomes TesseraError(code). */
function shaped<T>(code: 'INVALID_ARGUMENT' | 'UNAVAILABLE', what: string, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    if (e instanceof ShapeError || (e instanceof TesseraError && e.code === 'CORRUPTION'))
      throw new TesseraError(code, `invalid ${what}: ${e.message}`);
    throw e;
  }
}

function nodeId(v: unknown): NodeId {
  if (!isNodeId(v)) shapeFail(`${String(v)} is not a node id`);
  return v;
}

function shardId(v: unknown): ShardId {
  if (!isShardId(v)) shapeFail(`${String(v)} is not a shard id`);
  return v;
}

function epoch(v: unknown): Epoch {
  if (!isEpoch(v)) shapeFail(`${String(v)} is not an epoch`);
  return v;
}

function key(v: unknown, what: string): Buffer {
  const b = shapeBytes(v, what);
  if (b.length > REPORT_KEY_BYTES_MAX) shapeFail(`${what}: more than ${REPORT_KEY_BYTES_MAX} bytes`);
  return b;
}

/** '' (unknown) or a valid HOST:PORT. */
function address(v: unknown, what: string): string {
  const s = shapeString(v, what);
  if (s !== '' && !isValidAddress(s)) shapeFail(`${what}: not HOST:PORT`);
  return s;
}
