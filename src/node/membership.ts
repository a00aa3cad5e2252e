/**
 * Membership bookkeeping around the core: member addresses travel in the config entry's context
 * (utf8 "host:port"); applying an entry teaches the address book and re-points the transport.
 */
import type { NodeId } from '../base';
import type { ConfigState, Entry } from '../raft';
import type { Transport } from '../transport';
import type { AddressBook } from './address-book';
import type { Group } from './group';
import type { MemberInfo } from './types';

export function learnFromConfigEntry(e: Entry & { kind: 'config' }, self: NodeId, addresses: AddressBook, transport: Transport): void {
  const change = e.change;
  if (change.type === 'removeNode') {
    if (change.node !== self) transport.removePeer(change.node);
    return;
  }
  if (change.context && change.context.length > 0) {
    const address = Buffer.from(change.context).toString('utf8');
    addresses.set(change.node, address);
    transport.setPeer(change.node, address);
  }
}

/** After a snapshot install: connect to every member whose address we know. */
export function connectMembers(config: ConfigState, addresses: AddressBook, transport: Transport): void {
  for (const id of [...config.voters, ...config.learners]) {
    const address = addresses.get(id);
    if (address) transport.setPeer(id, address);
  }
}

export function membersOf(g: Group, self: NodeId, addresses: AddressBook): MemberInfo[] {
  const st = g.core.status();
  const out: MemberInfo[] = [];
  const add = (id: NodeId, voter: boolean) =>
    out.push({ id, address: addresses.get(id) ?? '', voter, match: st.progress?.get(id)?.match ?? (id === self ? st.lastIndex : 0) });
  for (const id of st.config.voters) add(id, true);
  for (const id of st.config.learners) add(id, false);
  return out.sort((a, b) => a.id - b.id);
}
