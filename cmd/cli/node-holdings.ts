/**
 * What a node still holds, as the cluster reports it (`tessera node drain` waits for zero): the Status of
 * every node the CLI can name (the endpoints given and every registered node that is not removed, at most
 * HOLDINGS_NODES_MAX), folded per group: the report with the highest (term, commit), i.e. the leader's or
 * the most advanced replica's, decides whether the node is a member and whether it leads. A node that does
 * not answer is skipped (a dead node being drained reports nothing; the others' reports count).
 */
import type { Client, GroupStatus } from '../../src/client';
import type { GlobalOptions } from './args';

export interface Holdings {
  /** Groups (shards and the meta shard) with a replica on the node. */
  replicas: number;
  /** Groups the node leads. */
  leaders: number;
}

/** Most nodes asked per look. */
const HOLDINGS_NODES_MAX = 256;
/** Budget of one Status call. */
const STATUS_TIMEOUT_MS = 2000;

/** The endpoints and every registered node not removed (the registry from any node; skipped if none answers). */
async function addressesToAsk(c: Client, g: GlobalOptions): Promise<string[]> {
  const addresses = new Set(g.endpoints);
  try {
    for (const n of await c.listNodes({ deadlineMs: Math.min(g.deadlineMs, STATUS_TIMEOUT_MS) }))
      if (n.state !== 'removed') addresses.add(n.address);
  } catch {
    // The endpoints alone then.
  }
  return [...addresses].slice(0, HOLDINGS_NODES_MAX);
}

/** Folds reports per group (see the header) and counts what `id` holds. */
export function foldHoldings(reports: readonly (readonly GroupStatus[])[], id: number): Holdings {
  const best = new Map<number, GroupStatus>();
  for (const groups of reports)
    for (const s of groups) {
      const cur = best.get(s.groupId);
      if (cur === undefined || s.term > cur.term || (s.term === cur.term && s.commit > cur.commit))
        best.set(s.groupId, s);
    }
  let replicas = 0;
  let leaders = 0;
  for (const s of best.values()) {
    if (s.members.some((m) => m.id === id)) replicas++;
    if (s.leader === id) leaders++;
  }
  return { replicas, leaders };
}

/** What node `id` holds now (see the header). */
export async function nodeHoldings(c: Client, g: GlobalOptions, id: number): Promise<Holdings> {
  const addresses = await addressesToAsk(c, g);
  const reports = await Promise.all(
    addresses.map((endpoint) =>
      c.status({ endpoint, deadlineMs: STATUS_TIMEOUT_MS }).then(
        (s) => s.groups,
        () => [],
      ),
    ),
  );
  return foldHoldings(reports, id);
}
