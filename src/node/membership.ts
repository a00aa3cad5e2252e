/**
 * Membership bookkeeping around the core: member addresses travel in the config entry's context;
 * applying an entry teaches the address book and re-points the transport.
 *
 * Context format (utf8):
 *   "HOST:PORT"                               one port serves clients and peers (today's form, still read)
 *   "client=HOST:PORT peer=HOST:PORT"         the member's peers dial a separate listener (--peer-listen)
 * Every address is checked (isValidAddress: HOST:PORT, at most 255 bytes) before it is used; a context
 * that fails is ignored (the entry still applies; the member is simply not dialed from it).
 */
import type { NodeId } from '../base';
import type { ConfigState, Entry } from '../raft';
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

export function learnFromConfigEntry(e: Entry & { kind: 'config' }, self: NodeId, addresses: AddressBook, transport: Transport): void {
  const change = e.change;
  if (change.type === 'removeNode') {
    if (change.node !== self) transport.removePeer(change.node);
    return;
  }
  const member = decodeMemberContext(change.context);
  if (member === null) return;
  // Our own client address is ours to say (advertise); the entry still names our peer address.
  addresses.setMember(change.node, member.peer, change.node === self ? (addresses.get(self) ?? member.client) : member.client);
  transport.setPeer(change.node, member.peer);
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
    out.push({ id, address: addresses.get(id) ?? '', voter, match: st.progress?.get(id)?.match ?? (id === self ? st.lastIndex : 0) });
  for (const id of st.config.voters) add(id, true);
  for (const id of st.config.learners) add(id, false);
  return out.sort((a, b) => a.id - b.id);
}
