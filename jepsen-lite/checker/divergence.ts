/**
 * The replica-divergence check at the end of every run: once the cluster is healed and no writes are in
 * flight, every member of the workload's group must hold the same data at the same applied index. Each
 * replica reports its own digest (Admin.Digest: applied index, key count, SHA-256 of the pairs in key
 * order, all of one instant); digests are compared only when taken at one applied index, so the probe
 * retries (bounded) until every member reports the same index.
 *
 * Verdict: valid when all digests at one index are equal; false when they differ (naming the nodes on
 * each side and the index) or when the members never reach one applied index within the budget (a
 * replica stuck behind with no writes running is itself a bug); 'unknown' when some member never answered.
 */
export interface ReplicaDigest {
  groupId: number;
  appliedIndex: number;
  keyCount: number;
  sha256: string;
}

export type DigestComparison =
  | { kind: 'identical'; appliedIndex: number; keyCount: number; sha256: string; nodes: number[] }
  | {
      kind: 'diverged';
      appliedIndex: number;
      /** One entry per distinct digest, largest group of nodes first. */
      variants: Array<{ sha256: string; keyCount: number; nodes: number[] }>;
    }
  | { kind: 'unequalApplied'; applied: Record<number, number> };

/** Compares the digests of several replicas (at least one). Pure. */
export function compareDigests(digests: ReadonlyMap<number, ReplicaDigest>): DigestComparison {
  const entries = [...digests].sort((a, b) => a[0] - b[0]);
  if (entries.length === 0) throw new RangeError('no digests to compare');
  const indexes = new Set(entries.map(([, d]) => d.appliedIndex));
  if (indexes.size > 1)
    return { kind: 'unequalApplied', applied: Object.fromEntries(entries.map(([n, d]) => [n, d.appliedIndex])) };
  const appliedIndex = entries[0]![1].appliedIndex;
  const byDigest = new Map<string, { sha256: string; keyCount: number; nodes: number[] }>();
  for (const [node, d] of entries) {
    const id = `${d.sha256}/${d.keyCount}`;
    const v = byDigest.get(id) ?? { sha256: d.sha256, keyCount: d.keyCount, nodes: [] };
    v.nodes.push(node);
    byDigest.set(id, v);
  }
  const variants = [...byDigest.values()].sort((a, b) => b.nodes.length - a.nodes.length || a.nodes[0]! - b.nodes[0]!);
  if (variants.length === 1) return { kind: 'identical', appliedIndex, ...variants[0]! };
  return { kind: 'diverged', appliedIndex, variants };
}

export interface DivergenceProbe {
  /** The members of the workload's group (voters and learners), or null when no leader answers. */
  members(): Promise<number[] | null>;
  /** One replica's own digest; rejects when it does not answer. */
  digest(node: number): Promise<ReplicaDigest>;
}

export interface DivergenceResult {
  valid: boolean | 'unknown';
  summary: string;
  attempts: number;
  last: DigestComparison | null;
  /** Members that did not answer in the last attempt, with the error. */
  unanswered: Record<number, string>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function describeComparison(c: DigestComparison): string {
  switch (c.kind) {
    case 'identical':
      return `nodes ${c.nodes.join(',')} identical at applied index ${c.appliedIndex} (${c.keyCount} keys, sha256 ${c.sha256.slice(0, 12)})`;
    case 'diverged':
      return `DIVERGED at applied index ${c.appliedIndex}: ${c.variants
        .map((v) => `nodes ${v.nodes.join(',')} hold ${v.keyCount} keys sha256 ${v.sha256.slice(0, 12)}`)
        .join(' vs ')}`;
    case 'unequalApplied':
      return `applied indexes differ: ${Object.entries(c.applied)
        .map(([n, i]) => `n${n}@${i}`)
        .join(' ')}`;
  }
}

/** Polls digests of every member until they are taken at one applied index (or the budget ends). */
export async function checkDivergence(
  probe: DivergenceProbe,
  opts: { budgetMs: number; intervalMs: number },
): Promise<DivergenceResult> {
  const end = Date.now() + opts.budgetMs;
  let attempts = 0;
  let last: DigestComparison | null = null;
  let unanswered: Record<number, string> = {};
  for (;;) {
    attempts++;
    const members = await probe.members().catch(() => null);
    if (members && members.length > 0) {
      const digests = new Map<number, ReplicaDigest>();
      unanswered = {};
      await Promise.all(
        members.map(async (n) => {
          try {
            digests.set(n, await probe.digest(n));
          } catch (e) {
            unanswered[n] = e instanceof Error ? e.message : String(e);
          }
        }),
      );
      if (digests.size > 0) last = compareDigests(digests);
      if (Object.keys(unanswered).length === 0 && last && last.kind !== 'unequalApplied')
        return { valid: last.kind === 'identical', summary: describeComparison(last), attempts, last, unanswered };
    }
    if (Date.now() + opts.intervalMs > end) break;
    await sleep(opts.intervalMs);
  }
  return giveUp(attempts, last, unanswered, opts.budgetMs);
}

function giveUp(
  attempts: number,
  last: DigestComparison | null,
  unanswered: Record<number, string>,
  budgetMs: number,
): DivergenceResult {
  const silent = Object.entries(unanswered).map(([n, e]) => `n${n}: ${e}`);
  const within = `within ${Math.round(budgetMs / 1000)} s (${attempts} attempts)`;
  if (last?.kind === 'diverged' && silent.length > 0)
    // The members that answered already disagree at one index: that is divergence whoever else is silent.
    return {
      valid: false,
      summary: `${describeComparison(last)}; no answer from ${silent.join('; ')}`,
      attempts,
      last,
      unanswered,
    };
  if (silent.length > 0 || last === null)
    return {
      valid: 'unknown',
      summary: `no digest from every member ${within}: ${silent.join('; ') || 'no leader to list the members'}`,
      attempts,
      last,
      unanswered,
    };
  return {
    valid: false,
    summary: `replicas never reached one applied index ${within} with no writes running: ${describeComparison(last)}`,
    attempts,
    last,
    unanswered,
  };
}
