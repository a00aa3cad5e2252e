/**
 * The replica-divergence check over every data shard (issue 10): once splits spread the keyspace over many
 * Raft groups, comparing the workload's first group alone would miss a replica that diverged in another.
 * The data shards are listed from the nodes' Status (kind 'data'; a node of an older version reports no
 * kind and one group); each is checked like the single group before (checkDivergence: every member's digest
 * at one applied index), one after the other within the shared budget, and the verdicts are combined:
 * false if any shard diverged, 'unknown' if any could not be compared (and none diverged), else true.
 */
import { checkDivergence, type DivergenceProbe, type DivergenceResult, type ReplicaDigest } from './divergence';

export interface ShardsProbe {
  /** Each data group's id with its members (voters and learners) as some node reports them; null: no answer. */
  dataGroups(): Promise<Map<number, number[]> | null>;
  digest(node: number, groupId: number): Promise<ReplicaDigest>;
}

export async function checkDivergenceAllShards(
  probe: ShardsProbe,
  opts: { budgetMs: number; intervalMs: number },
): Promise<DivergenceResult> {
  const end = Date.now() + opts.budgetMs;
  const groups = await probe.dataGroups().catch(() => null);
  if (groups === null || groups.size === 0)
    return { valid: 'unknown', summary: 'no node listed its shards', attempts: 1, last: null, unanswered: {} };
  const results: { id: number; r: DivergenceResult }[] = [];
  for (const [id, members] of [...groups].sort((a, b) => a[0] - b[0])) {
    const one: DivergenceProbe = {
      members: async () => members,
      digest: (n) => probe.digest(n, id),
    };
    const budgetMs = Math.max(opts.intervalMs, end - Date.now());
    results.push({ id, r: await checkDivergence(one, { budgetMs, intervalMs: opts.intervalMs }) });
  }
  const bad = results.filter((x) => x.r.valid === false);
  const unknown = results.filter((x) => x.r.valid === 'unknown');
  const valid = bad.length > 0 ? false : unknown.length > 0 ? 'unknown' : true;
  const named = (xs: typeof results) => xs.map((x) => `shard ${x.id}: ${x.r.summary}`).join('; ');
  const summary =
    valid === true
      ? `${results.length} shard(s) identical on their replicas (${results.map((x) => `shard ${x.id}: ${x.r.summary}`).join('; ')})`
      : named([...bad, ...unknown]);
  const first = bad[0] ?? unknown[0] ?? results[0]!;
  return {
    valid,
    summary,
    attempts: results.reduce((s, x) => s + x.r.attempts, 0),
    last: first.r.last,
    unanswered: first.r.unanswered,
  };
}
