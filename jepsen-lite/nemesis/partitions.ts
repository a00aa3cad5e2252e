/**
 * Partition shapes as grudges (pure, seeded). Every shape returns the directed drops "a>b" for the
 * given node ids; `leader` is used by the leader-targeted shapes (a random node when unknown).
 *
 *   isolate-one       one random node cut off from the rest
 *   isolate-leader    the leader cut off from the rest
 *   halves            random split into floor(n/2) and the rest
 *   majorities-ring   each node hears a majority (itself and the next floor(n/2) nodes on a shuffled
 *                     ring) and no two nodes hear the same majority (one-way drops, as in Jepsen)
 *   bridge            two halves that only one node in the middle can talk to
 *   one-way           one node (the leader half of the time) can hear but not speak, or the reverse
 */
import type { Random } from '../../src/base';
import { dropKey, splitDrops } from '../net/grudge';

export const partitionShapes = [
  'isolate-one',
  'isolate-leader',
  'halves',
  'majorities-ring',
  'bridge',
  'one-way',
] as const;
export type PartitionShape = (typeof partitionShapes)[number];

export interface PartitionResult {
  drops: Set<string>;
  /** A human description, e.g. "[1] | [2 3]". */
  description: string;
}

const fmt = (xs: readonly number[]): string => `[${[...xs].sort((a, b) => a - b).join(' ')}]`;

export function partitionDrops(
  shape: PartitionShape,
  ids: readonly number[],
  leader: number | null,
  rng: Random,
): PartitionResult {
  if (ids.length < 2) throw new RangeError('a partition needs at least 2 nodes');
  const pickLeaderOr = (): number => (leader !== null && ids.includes(leader) ? leader : rng.pick(ids));
  switch (shape) {
    case 'isolate-one':
    case 'isolate-leader': {
      const x = shape === 'isolate-leader' ? pickLeaderOr() : rng.pick(ids);
      const rest = ids.filter((i) => i !== x);
      return { drops: splitDrops([x], rest), description: `${fmt([x])} | ${fmt(rest)}` };
    }
    case 'halves': {
      const s = rng.shuffle([...ids]);
      const a = s.slice(0, Math.floor(s.length / 2));
      const b = s.slice(a.length);
      return { drops: splitDrops(a, b), description: `${fmt(a)} | ${fmt(b)}` };
    }
    case 'bridge': {
      const s = rng.shuffle([...ids]);
      const half = Math.floor((s.length - 1) / 2);
      const a = s.slice(0, half);
      const mid = s[half]!;
      const b = s.slice(half + 1);
      return { drops: splitDrops(a, b), description: `${fmt(a)} <-> ${mid} <-> ${fmt(b)}` };
    }
    case 'majorities-ring': {
      const ring = rng.shuffle([...ids]);
      const n = ring.length;
      const k = Math.floor(n / 2);
      const drops = new Set<string>();
      const views: string[] = [];
      ring.forEach((node, idx) => {
        const view = new Set<number>([node]);
        for (let d = 1; d <= k; d++) view.add(ring[(idx + d) % n]!);
        views.push(`${node} hears ${fmt([...view])}`);
        for (const other of ids) if (!view.has(other)) drops.add(dropKey(other, node));
      });
      return { drops, description: views.join('; ') };
    }
    case 'one-way': {
      const x = rng.chance(0.5) ? pickLeaderOr() : rng.pick(ids);
      const rest = ids.filter((i) => i !== x);
      const mute = rng.chance(0.5);
      const drops = new Set<string>(rest.map((o) => (mute ? dropKey(x, o) : dropKey(o, x))));
      return { drops, description: mute ? `${x} cannot send to ${fmt(rest)}` : `${x} cannot hear ${fmt(rest)}` };
    }
  }
}
