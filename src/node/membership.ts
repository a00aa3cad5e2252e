/**
 * Membership bookkeeping around the core: member addresses travel in the config entry's context;
 * applying an entry teaches the address book and re-points the transport.
 *
 * Context format (utf8):
 *   "HOST:PORT"                               one port serves clients and peers (today's form, still read)
 *   "client=HOST:PORT peer=HOST:PORT"         the member's peers dial a separate listener (--peer-listen)
 * Every address is checked (isValidAddress: HOST:PORT, at most 255 bytes) before it is used; a context
 * that fails is ignored (the entry still applies; the member is simply not dialed from it).
 *
 * Snapshots: a config entry compacted away teaches nothing, so a member that catches up by snapshot past
 * the addition of new members would never learn their addresses (and could send them nothing, votes and
 * acks included). The snapshot message's data (opaque to the core; the core sends it empty) carries the
 * addresses its sender knows for the members of the snapshot's configuration, a codec record
 *   [SNAPSHOT_MEMBERS_FORMAT, [[id, peer, client]...]]     ('' for an address the sender does not know)
 * The receiver learns them into its address book (persisted) before the core can take the snapshot (only
 * from a snapshot past its applied index), and connectMembers re-points the transport once it is installed.
 * It lives in the message, not in the state machine's chunks: an older receiver ignores the message's data
 * (it replaces it with its staging id) but would refuse a chunk item kind it does not know; an older
 * sender's empty data teaches nothing (as before).
 */
import type { NodeId } from '../base';
import { decodeRecord, encodeRecord } from '../codec';
import type { ConfigState, Entry, Message, Snapshot } from '../raft';
import { ADDRESS_BYTES_MAX, isValidAddress, type Transport } from '../transport';
import type { AddressBook } from './address-book';
import type { Group } from './group';
import type { MemberInfo } from './types';

export interface MemberContext {
  /** What clients are told. */
  client: string;
  /** What peers dial. */
  peer: string;
}

/** The context of an addNode/addLearner entry: today's plain form when both addresses are the same. */
export function encodeMemberContext(client: string, peer: string = client): Buffer {
  return Buffer.from(peer === '' || peer === client ? client : `client=${client} peer=${peer}`, 'utf8');
}

/** Reads a config entry's context; null when it is empty or malformed. */
export function decodeMemberContext(context: Uint8Array | null | undefined): MemberContext | null {
  if (!context || context.length === 0 || context.length > 2 * ADDRESS_BYTES_MAX + 16) return null;
  const text = Buffer.from(context).toString('utf8');
  if (isValidAddress(text)) return { client: text, peer: text };
  const m = /^client=(\S+) peer=(\S+)$/.exec(text);
  if (!m || !isValidAddress(m[1]) || !isValidAddress(m[2])) return null;
  return { client: m[1], peer: m[2] };
}

/**
 * `sharesAnotherGroup`: whether a removed node is still a member of another group hosted here (a replica
 * removed from one shard may still hold others: its link stays up then). Default: it shares none.
 */
export function learnFromConfigEntry(
  e: Entry & { kind: 'config' },
  self: NodeId,
  addresses: AddressBook,
  transport: Transport,
  sharesAnotherGroup: (node: NodeId) => boolean = () => false,
): void {
  const change = e.change;
  if (change.type === 'removeNode') {
    if (change.node !== self && !sharesAnotherGroup(change.node)) transport.removePeer(change.node);
    return;
  }
  const member = decodeMemberContext(change.context);
  if (member === null) return;
  // Our own client address is ours to say (advertise); the entry still names our peer address.
  addresses.setMember(
    change.node,
    member.peer,
    change.node === self ? (addresses.get(self) ?? member.client) : member.client,
  );
  transport.setPeer(change.node, member.peer);
}

/** The format tag of the member list in a snapshot message's data. */
export const SNAPSHOT_MEMBERS_FORMAT = 1;
/** Most members read from one snapshot message (a configuration holds at most 3 * 1024 ids, see codec). */
const SNAPSHOT_MEMBERS_MAX = 3 * 1024;

/** A member as a snapshot message names it; null for an address its sender did not know. */
export interface SnapshotMember {
  id: NodeId;
  peer: string | null;
  client: string | null;
}

function configMembers(config: ConfigState): NodeId[] {
  return [...new Set([...config.voters, ...config.votersOutgoing, ...config.learners])].sort((a, b) => a - b);
}

/** The data of a snapshot message: the addresses `addresses` knows for every member of `config`. */
export function encodeSnapshotMembers(config: ConfigState, addresses: AddressBook): Buffer {
  const members = configMembers(config).map((id) => [id, addresses.peer(id) ?? '', addresses.client(id) ?? '']);
  return encodeRecord([SNAPSHOT_MEMBERS_FORMAT, members]);
}

/**
 * The members a snapshot message's data names, each with at least one valid address. [] for the empty data
 * of an older sender, for another format and for anything that does not decode; malformed items are skipped.
 */
export function decodeSnapshotMembers(data: Uint8Array): SnapshotMember[] {
  if (data.length === 0) return [];
  let value: unknown;
  try {
    value = decodeRecord(data, 'snapshot members');
  } catch {
    return [];
  }
  if (!Array.isArray(value) || value[0] !== SNAPSHOT_MEMBERS_FORMAT || !Array.isArray(value[1])) return [];
  const out: SnapshotMember[] = [];
  for (const item of (value[1] as unknown[]).slice(0, SNAPSHOT_MEMBERS_MAX)) {
    if (!Array.isArray(item) || !Number.isSafeInteger(item[0]) || (item[0] as number) < 1) continue;
    const peer = isValidAddress(item[1]) ? item[1] : null;
    const client = isValidAddress(item[2]) ? item[2] : null;
    if (peer !== null || client !== null) out.push({ id: item[0] as NodeId, peer, client });
  }
  return out;
}

/** The snapshot message to send, its data carrying the member addresses this node knows. */
export function withMemberAddresses(
  m: Message & { type: 'snapshot' },
  addresses: AddressBook,
): Message & { type: 'snapshot' } {
  return { ...m, snapshot: { meta: m.snapshot.meta, data: encodeSnapshotMembers(m.snapshot.meta.config, addresses) } };
}

/**
 * Receiving side, once the snapshot is staged and before the core sees it: learns the addresses a snapshot
 * message names for the members of its configuration (our own client address stays ours to say) and waits
 * until the book has written them, so a restart after the install still dials them. Only from a snapshot past
 * `applied` (this replica's applied index): its sender had applied at least up to the snapshot's index, so
 * its addresses are at least as new as what our committed config entries taught us (a stale snapshot the
 * core will refuse must not undo a newer address). Resolves with the ids whose addresses changed. The
 * transport is re-pointed when the snapshot is installed (connectMembers).
 */
export async function learnFromSnapshot(
  snapshot: Snapshot,
  self: NodeId,
  addresses: AddressBook,
  applied: number,
): Promise<NodeId[]> {
  if (snapshot.meta.index <= applied) return [];
  const members = new Set(configMembers(snapshot.meta.config));
  const learned: NodeId[] = [];
  for (const m of decodeSnapshotMembers(snapshot.data)) {
    if (!members.has(m.id)) continue;
    if (addresses.learn(m.id, m.peer, m.id === self ? null : m.client)) learned.push(m.id);
  }
  if (learned.length > 0) await addresses.flush();
  return learned;
}

/** After a snapshot install: connect to every member whose peer address we know. */
export function connectMembers(config: ConfigState, addresses: AddressBook, transport: Transport): void {
  for (const id of [...config.voters, ...config.learners]) {
    const address = addresses.peer(id);
    if (address) transport.setPeer(id, address);
  }
}

/** The members of a group with their client addresses (what Status shows clients). */
export function membersOf(g: Group, self: NodeId, addresses: AddressBook): MemberInfo[] {
  const st = g.core.status();
  const out: MemberInfo[] = [];
  const add = (id: NodeId, voter: boolean) =>
    out.push({
      id,
      address: addresses.get(id) ?? '',
      voter,
      match: st.progress?.get(id)?.match ?? (id === self ? st.lastIndex : 0),
    });
  for (const id of st.config.voters) add(id, true);
  for (const id of st.config.learners) add(id, false);
  return out.sort((a, b) => a.id - b.id);
}
