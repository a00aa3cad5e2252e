/**
 * describedShards (src/node/local-shards.ts): the hosted shards ListShards reports. A replica catching up
 * from the start of its group's log owns keys (it applied entries) before its core applied the configuration
 * entries among them: it has no voter for a moment and is left out (a descriptor without a voter is refused
 * by every client: the sharding test's ListShards failed with "no voter among the replicas").
 */
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../../src/base';
import type { Group } from '../../../src/node/group';
import { describedShards, routableDescriptorOf } from '../../../src/node/local-shards';

function group(id: number, voters: number[], learners: number[] = [], start = ''): Group {
  return {
    id,
    sm: { applied: 234 },
    kvSm: { shard: { start: Buffer.from(start), end: null, epoch: 3 } },
    core: {
      status: () => ({
        leader: (voters[0] ?? 0) as NodeId,
        config: { voters: voters as NodeId[], learners: learners as NodeId[], votersOutgoing: [] },
      }),
    },
  } as unknown as Group;
}

describe('describedShards', () => {
  it('lists each hosted shard with its members, voters and learners', () => {
    const list = describedShards([group(1, [3, 1], [5]), group(7, [2], [], 'm')]);
    expect(list.map((s) => s.id)).toEqual([1, 7]);
    expect(list[0]!.replicas).toEqual([
      { id: 1, voter: true },
      { id: 3, voter: true },
      { id: 5, voter: false },
    ]);
    expect(list[0]!.applied).toBe(234);
  });

  it('leaves out a replica whose core knows no voter yet (catching up from the log start)', () => {
    expect(describedShards([group(1, []), group(7, [2], [], 'm')]).map((s) => s.id)).toEqual([7]);
    expect(describedShards([group(1, [], [4])])).toEqual([]);
  });
});

describe('routableDescriptorOf (the descriptor a WRONG_SHARD answer carries)', () => {
  it('is the shard with its epoch and replicas, or null while the core knows no voter', () => {
    expect(routableDescriptorOf(group(7, [2], [4], 'm'))).toEqual({
      id: 7,
      start: Buffer.from('m'),
      end: null,
      epoch: 3,
      replicas: [
        { node: 2, role: 'voter' },
        { node: 4, role: 'learner' },
      ],
    });
    expect(routableDescriptorOf(group(1, []))).toBeNull();
    expect(routableDescriptorOf(group(1, [], [4]))).toBeNull();
  });
});
