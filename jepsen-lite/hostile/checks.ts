/**
 * What a hostile run checks besides the workload's checker, node by node (a follower whose data a forgery
 * replaced answers stale reads from the replaced data; linearizable reads would only ask the leader):
 * a sentinel key written before the attacks still has its value on every node, no planted key is
 * readable anywhere, and no call reached the attacker's fake node.
 */
import type { NodeDoor } from './cluster-view';
import { decode, encode, unary } from './wire';

const CONSISTENCY_STALE = 1;

export type NodeRead = { ok: true; value: string | null } | { ok: false; error: string };

/** A stale read of `key` from the node's own replica. */
export async function readOn(door: NodeDoor, key: string, timeoutMs = 2000): Promise<NodeRead> {
  const r = await unary(
    door.clientAddress,
    '/tessera.v1.KV/Get',
    encode('GetRequest', { key: Buffer.from(key), consistency: CONSISTENCY_STALE }),
    timeoutMs,
  );
  if (!r.response) return { ok: false, error: `${r.answer.code} ${r.answer.detail}` };
  const g = decode<{ found: boolean; value: Uint8Array }>('GetResponse', r.response);
  return { ok: true, value: g.found ? Buffer.from(g.value).toString('utf8') : null };
}

/**
 * Waits (bounded) until every node returns `expected` for `key`; resolves to the nodes that never did,
 * with what they last answered (empty: all good).
 */
export async function expectEverywhere(
  doors: readonly NodeDoor[],
  key: string,
  expected: string | null,
  timeoutMs: number,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let bad: string[] = [];
  do {
    const reads = await Promise.all(doors.map(async (d) => [d.id, await readOn(d, key)] as const));
    bad = reads
      .filter(([, r]) => !r.ok || r.value !== expected)
      .map(([id, r]) => `node ${id}: ${r.ok ? (r.value === null ? 'absent' : JSON.stringify(r.value)) : r.error}`);
    if (bad.length === 0) return [];
    await new Promise((res) => setTimeout(res, 250));
  } while (Date.now() < deadline);
  return bad;
}

/** The planted keys readable on some node, as "key on node N". */
export async function plantedVisible(doors: readonly NodeDoor[], keys: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const key of keys) {
    for (const d of doors) {
      const r = await readOn(d, key);
      if (r.ok && r.value !== null) out.push(`${key} on node ${d.id}`);
    }
  }
  return out;
}
