/**
 * Network faults as data, and their translation into per-link proxy states (pure, unit tested).
 *
 * A Grudge is a set of directed node pairs "a>b": messages from a to b are not delivered. With TCP a
 * direction of a stream can be held but not dropped, so:
 *   - both directions dropped between a and b, mode 'cut': proxies a->b and b->a refuse (connections reset);
 *   - both directions dropped, mode 'hold': proxies a->b and b->a hold both directions (a blackhole);
 *   - only a>b dropped (asymmetric): proxy a->b holds forward (a's bytes to b), proxy b->a holds
 *     backward (replies of a on the stream b opened).
 * `delayMs` adds that delay to both directions of every peer link (the slow nemesis).
 */
import { healthyLinkState, type LinkState } from './link-state';

export type PartitionMode = 'cut' | 'hold';

export interface NetworkFaults {
  /** Directed pairs "a>b" (node ids): a's messages to b are not delivered. */
  drops: ReadonlySet<string>;
  mode: PartitionMode;
  delayMs: number;
}

export const noFaults: NetworkFaults = { drops: new Set(), mode: 'cut', delayMs: 0 };

export function dropKey(from: number, to: number): string {
  return `${from}>${to}`;
}

/** Drops every message between the two sides, in both directions. */
export function splitDrops(sideA: readonly number[], sideB: readonly number[]): Set<string> {
  const out = new Set<string>();
  for (const a of sideA) {
    for (const b of sideB) {
      if (a === b) continue;
      out.add(dropKey(a, b));
      out.add(dropKey(b, a));
    }
  }
  return out;
}

/** Each node may talk only to the nodes in its own list (the rest of the pairs are dropped both ways). */
export function reachabilityDrops(
  nodes: readonly number[],
  reach: ReadonlyMap<number, readonly number[]>,
): Set<string> {
  const out = new Set<string>();
  for (const a of nodes) {
    for (const b of nodes) {
      if (a === b) continue;
      const ok = (reach.get(a) ?? []).includes(b) && (reach.get(b) ?? []).includes(a);
      if (!ok) out.add(dropKey(a, b));
    }
  }
  return out;
}

/** The state of the peer proxy `from -> to` (the proxy `from` dials to reach `to`). */
export function peerLinkState(faults: NetworkFaults, from: number, to: number): LinkState {
  const s = healthyLinkState();
  const there = faults.drops.has(dropKey(from, to));
  const back = faults.drops.has(dropKey(to, from));
  if (there && back && faults.mode === 'cut') {
    s.refuse = true;
    return s;
  }
  s.forward.held = there;
  s.backward.held = back;
  s.forward.delayMs = faults.delayMs;
  s.backward.delayMs = faults.delayMs;
  return s;
}
