/**
 * The membership of a group as its data dir stores it, read without starting a core: the snapshot meta's
 * configuration (or, without a snapshot, the bootstrap membership the node was created with), then every
 * config entry of the durable log applied in order (the latest configuration the log knows, like the one
 * a restarted core reaches once it has applied its log). Peer addresses (what --peers names) come from the
 * bootstrap peers, the config entries' contexts and the persisted address book (n/addresses).
 *
 * `peersContradiction` decides whether a --peers flag contradicts a node's stored state (DESIGN.md 9b:
 * flags bootstrap a node, they never override its data dir). It accepts the flags the node bootstrapped
 * with and the current membership; it refuses a different id set, or a stored member at an address the
 * data dir never knew for it.
 */
import type { GroupId, NodeId } from '../base';
import { configAfterEntry, type ConfigState } from '../raft';
import type { NodeStore } from '../storage';
import { AddressBook } from './address-book';
import { decodeMemberContext } from './membership';

export interface StoredMembership {
  /** The latest configuration in the stored snapshot meta and log. */
  config: ConfigState;
  /** Voters, outgoing voters and learners of `config`, each once, ascending. */
  members: NodeId[];
  /**
   * False when the configuration could not be rebuilt: no snapshot, no bootstrap membership known (a data
   * dir written before identity records existed) and no config entry carrying its full configuration.
   */
  known: boolean;
  /** Every address the data dir knows for each node (bootstrap peers, config entry contexts, address book). */
  addresses: Map<NodeId, Set<string>>;
}

function membersOf(c: ConfigState): NodeId[] {
  return [...new Set([...c.voters, ...c.votersOutgoing, ...c.learners])].sort((a, b) => a - b);
}

/**
 * Reads the stored membership of `groupId`, or null when the store holds nothing for the group.
 * `bootstrapPeers`: the membership the node bootstrapped with (its identity record; [] for a node that
 * joined, null when unknown).
 */
export async function readStoredMembership(
  store: NodeStore,
  groupId: GroupId,
  bootstrapPeers: readonly [NodeId, string][] | null,
): Promise<StoredMembership | null> {
  const durable = await store.loadGroup(groupId);
  if (durable === null) return null;
  const addresses = new Map<NodeId, Set<string>>();
  const know = (id: NodeId, address: string): void => {
    if (address === '') return;
    let set = addresses.get(id);
    if (set === undefined) addresses.set(id, (set = new Set()));
    set.add(address);
  };
  for (const [id, a] of bootstrapPeers ?? []) know(id, a);
  let known: boolean;
  let config: ConfigState;
  if (durable.snapshot !== null) {
    config = durable.snapshot.config;
    known = true;
  } else {
    config = {
      voters: (bootstrapPeers ?? []).map(([id]) => id).sort((a, b) => a - b),
      learners: [],
      votersOutgoing: [],
    };
    known = bootstrapPeers !== null;
  }
  for (const e of durable.entries) {
    if (e.kind !== 'config') continue;
    config = configAfterEntry(config, e);
    if (e.config !== undefined) known = true;
    const context = e.change.type === 'removeNode' ? null : decodeMemberContext(e.change.context);
    if (context !== null) know(e.change.node, context.peer);
  }
  const book = await AddressBook.open(store.db, new Map());
  for (const [id, a] of book.entries()) know(id, a);
  return { config, members: membersOf(config), known, addresses };
}

/**
 * Why `peers` (a --peers flag) contradicts the stored state, or null when it does not. It contradicts when
 * its id set differs from both the stored members and the bootstrap peers, or when it gives a stored
 * member an address the data dir does not know for it.
 */
export function peersContradiction(
  peers: ReadonlyMap<NodeId, string>,
  stored: StoredMembership,
  bootstrapPeers: readonly [NodeId, string][] | null,
): string | null {
  const ids = [...peers.keys()].sort((a, b) => a - b);
  const same = (a: readonly NodeId[], b: readonly NodeId[]) => a.length === b.length && a.every((v, i) => v === b[i]);
  const bootIds = bootstrapPeers === null ? null : bootstrapPeers.map(([id]) => id).sort((a, b) => a - b);
  // Nothing to compare with (an older data dir without a snapshot or a full config entry): accept.
  const unknowable = !stored.known && (bootIds === null || bootIds.length === 0);
  const idsOk =
    unknowable ||
    (stored.known && same(ids, stored.members)) ||
    (bootIds !== null && bootIds.length > 0 && same(ids, bootIds));
  if (!idsOk) {
    const what = stored.known ? `members ${stored.members.join(',') || '(none)'}` : 'an unknown membership';
    const boot = bootIds !== null && bootIds.length > 0 ? ` (bootstrapped with ${bootIds.join(',')})` : '';
    return `it holds group 1 with ${what}${boot}, but --peers lists ${ids.join(',')}`;
  }
  for (const [id, address] of peers) {
    if (!stored.members.includes(id)) continue;
    const knownAt = stored.addresses.get(id);
    if (knownAt === undefined || knownAt.size === 0 || knownAt.has(address)) continue;
    return `it knows member ${id} at ${[...knownAt].join(' or ')}, but --peers gives ${id}=${address}`;
  }
  return null;
}
