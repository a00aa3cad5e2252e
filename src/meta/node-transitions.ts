/**
 * The node registry's state machine: which state changes are legal (setNodeState refuses the others).
 *   up       -> down | draining | removed
 *   down     -> up | draining | removed
 *   draining -> up (drain cancelled) | removed
 *   removed  -> nothing: a removed id is never used again (ids stay unique), the node must not come back.
 * draining -> down is refused: draining is the operator's intent and stays until cancelled or the node is
 * removed; whether a draining node is alive is what heartbeats say (liveness.ts), not the registry. Setting
 * the state a node already has is not a change (the result names it as previous; nothing is written).
 * Removal does not require an empty node: the placement driver treats a removed node's replicas like a
 * dead node's (re-created elsewhere); `tessera node remove` checks emptiness before it asks.
 */
import type { NodeState } from './types';

const LEGAL: Readonly<Record<NodeState, readonly NodeState[]>> = {
  up: ['down', 'draining', 'removed'],
  down: ['up', 'draining', 'removed'],
  draining: ['up', 'removed'],
  removed: [],
};

export function isLegalTransition(from: NodeState, to: NodeState): boolean {
  return from === to || LEGAL[from].includes(to);
}
