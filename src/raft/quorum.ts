/**
 * Pure quorum math (etcd-io/raft quorum/): the committed index of a majority and the outcome of a vote.
 * A configuration has `voters` and, during joint consensus, `votersOutgoing`; both majorities must agree.
 * Invariants: an empty voter set is neutral (commits everything, wins every vote) so that a simple
 * configuration is the joint one with an empty outgoing half; a node id appears at most once per set.
 */
import type { NodeId } from '../base';
import type { Index } from './types';

export type VoteResult = 'won' | 'lost' | 'pending';

/** The voter sets of a configuration (ConfigState is one). */
export interface VoterSets {
  readonly voters: readonly NodeId[];
  readonly votersOutgoing: readonly NodeId[];
}

/** Anything that yields a per-voter index (match index, acked read round). Missing voters count as 0. */
export interface IndexSource {
  indexOf(id: NodeId): Index;
}

const scratch: number[] = [];

/** The largest index that a majority of `voters` has reached (Infinity for an empty set). */
export function majorityIndex(voters: readonly NodeId[], source: IndexSource): Index {
  const n = voters.length;
  if (n === 0) return Infinity;
  scratch.length = n;
  for (let i = 0; i < n; i++) scratch[i] = source.indexOf(voters[i] as NodeId);
  // Sort descending in place; n is small (<= 7 typically) so insertion sort beats Array.sort.
  for (let i = 1; i < n; i++) {
    const v = scratch[i] as number;
    let j = i - 1;
    while (j >= 0 && (scratch[j] as number) < v) {
      scratch[j + 1] = scratch[j] as number;
      j--;
    }
    scratch[j + 1] = v;
  }
  const quorum = (n >> 1) + 1;
  return scratch[quorum - 1] as number;
}

/** The committed index of a (possibly joint) configuration: the smaller of both majorities. */
export function committedIndex(config: VoterSets, source: IndexSource): Index {
  const a = majorityIndex(config.voters, source);
  const b = majorityIndex(config.votersOutgoing, source);
  return a < b ? a : b;
}

/** The outcome of a vote in one voter set; `votes` maps voter -> granted (absent: not answered yet). */
export function majorityVote(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const n = voters.length;
  if (n === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (let i = 0; i < n; i++) {
    const v = votes.get(voters[i] as NodeId);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const quorum = (n >> 1) + 1;
  if (granted >= quorum) return 'won';
  if (granted + missing >= quorum) return 'pending';
  return 'lost';
}

/** The outcome of a vote in a (possibly joint) configuration. */
export function voteResult(config: VoterSets, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const a = majorityVote(config.voters, votes);
  const b = majorityVote(config.votersOutgoing, votes);
  if (a === b) return a;
  if (a === 'lost' || b === 'lost') return 'lost';
  return 'pending';
}

/** True when `id` alone forms a quorum of the configuration (a single-voter cluster). */
export function isSoleVoter(config: VoterSets, id: NodeId): boolean {
  const inOutgoing =
    config.votersOutgoing.length === 0 || (config.votersOutgoing.length === 1 && config.votersOutgoing[0] === id);
  return config.voters.length === 1 && config.voters[0] === id && inOutgoing;
}
