/**
 * Membership configurations, one server at a time (Raft thesis 4.1, etcd-style: a change takes effect
 * when its entry is applied). Pure functions over ConfigState.
 * Invariants: voters and learners are disjoint, without duplicates; a change never leaves zero voters.
 */
import { isNodeId } from '../base';
import type { NodeId } from '../base';
import type { ConfigState, DropReason, Entry, MembershipChange } from './types';

export function emptyConfig(): ConfigState {
  return { voters: [], learners: [], votersOutgoing: [] };
}

export function cloneConfig(c: ConfigState): ConfigState {
  return { voters: c.voters.slice(), learners: c.learners.slice(), votersOutgoing: c.votersOutgoing.slice() };
}

export function isVoter(c: ConfigState, id: NodeId): boolean {
  return c.voters.includes(id) || c.votersOutgoing.includes(id);
}

export function isLearner(c: ConfigState, id: NodeId): boolean {
  return c.learners.includes(id);
}

export function isMember(c: ConfigState, id: NodeId): boolean {
  return isVoter(c, id) || isLearner(c, id);
}

/** Every member (voters, outgoing voters, learners), each once. */
export function members(c: ConfigState): NodeId[] {
  const out = c.voters.slice();
  for (const id of c.votersOutgoing) if (!out.includes(id)) out.push(id);
  for (const id of c.learners) if (!out.includes(id)) out.push(id);
  return out;
}

/** Why `change` cannot be applied to `c`, or null when it can. */
export function validateChange(c: ConfigState, change: MembershipChange): DropReason | null {
  if (c.votersOutgoing.length > 0) return 'configChangePending';
  const voter = c.voters.includes(change.node);
  const learner = c.learners.includes(change.node);
  switch (change.type) {
    case 'addVoter':
      return voter ? 'invalidChange' : null;
    case 'addLearner':
      if (learner) return 'invalidChange';
      if (voter && c.voters.length === 1) return 'invalidChange';
      return null;
    case 'removeNode':
      if (!voter && !learner) return 'unknownNode';
      if (voter && c.voters.length === 1) return 'invalidChange';
      return null;
  }
}

/** The configuration after `change` (which validateChange accepted). */
export function applyChange(c: ConfigState, change: MembershipChange): ConfigState {
  const id = change.node;
  const voters = c.voters.filter((v) => v !== id);
  const learners = c.learners.filter((l) => l !== id);
  switch (change.type) {
    case 'addVoter':
      voters.push(id);
      break;
    case 'addLearner':
      learners.push(id);
      break;
    case 'removeNode':
      break;
  }
  return { voters, learners, votersOutgoing: c.votersOutgoing.slice() };
}

/** The configuration a config entry establishes when applied on top of `current`. */
export function configAfterEntry(current: ConfigState, entry: Entry & { kind: 'config' }): ConfigState {
  return entry.config ? cloneConfig(entry.config) : applyChange(current, entry.change);
}

export function configsEqual(a: ConfigState, b: ConfigState): boolean {
  const same = (x: readonly NodeId[], y: readonly NodeId[]): boolean =>
    x.length === y.length && x.every((v) => y.includes(v));
  return same(a.voters, b.voters) && same(a.learners, b.learners) && same(a.votersOutgoing, b.votersOutgoing);
}

/** The first duplicate or invalid id of `ids` as a message, or null (ids must be valid node ids, each once). */
function idListProblem(ids: unknown, what: string): string | null {
  if (!Array.isArray(ids)) return `${what} is not a list`;
  for (let i = 0; i < ids.length; i++) {
    const id: unknown = ids[i];
    if (!isNodeId(id)) return `${what} holds ${String(id)}, not a node id`;
    if (ids.indexOf(id) !== i) return `${what} holds ${id} twice`;
  }
  return null;
}

/**
 * Why a configuration that came from a peer breaks the invariants above, or null when it is well formed:
 * every id a valid node id listed once per list, voters and learners disjoint, at least one voter.
 */
export function configProblem(c: ConfigState): string | null {
  if (typeof c !== 'object' || c === null) return 'config is not an object';
  const problem =
    idListProblem(c.voters, 'voters') ??
    idListProblem(c.learners, 'learners') ??
    idListProblem(c.votersOutgoing, 'outgoing voters');
  if (problem !== null) return problem;
  if (c.voters.length === 0) return 'config has no voters';
  for (const id of c.learners) if (c.voters.includes(id)) return `node ${id} is both voter and learner`;
  return null;
}
