/**
 * Membership configurations, one server at a time (Raft thesis 4.1, etcd-style: a change takes effect
 * when its entry is applied). Pure functions over ConfigState.
 * Invariants: voters and learners are disjoint, without duplicates; a change never leaves zero voters.
 */
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
  const same = (x: readonly NodeId[], y: readonly NodeId[]): boolean => x.length === y.length && x.every((v) => y.includes(v));
  return same(a.voters, b.voters) && same(a.learners, b.learners) && same(a.votersOutgoing, b.votersOutgoing);
}
