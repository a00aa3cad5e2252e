/**
 * Which nodes a kill or pause hits (pure, seeded): one random node, the leader, a random minority
 * (at least one, fewer than half), a random majority, or all of them.
 */
import type { Random } from '../../src/base';

export const nodeTargets = ['one', 'leader', 'minority', 'majority', 'all'] as const;
export type NodeTarget = (typeof nodeTargets)[number];

export function resolveTargets(
  target: NodeTarget,
  ids: readonly number[],
  leader: number | null,
  rng: Random,
): number[] {
  if (ids.length === 0) throw new RangeError('no nodes to target');
  const shuffled = rng.shuffle([...ids]);
  const n = ids.length;
  const minority = Math.max(1, Math.floor((n - 1) / 2));
  const majority = Math.floor(n / 2) + 1;
  switch (target) {
    case 'one':
      return [shuffled[0]!];
    case 'leader':
      return [leader !== null && ids.includes(leader) ? leader : shuffled[0]!];
    case 'minority':
      return shuffled.slice(0, minority).sort((a, b) => a - b);
    case 'majority':
      return shuffled.slice(0, majority).sort((a, b) => a - b);
    case 'all':
      return [...ids].sort((a, b) => a - b);
  }
}
