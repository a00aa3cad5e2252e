/**
 * Identifiers. Node ids and group ids are positive integers; 0 means "none" (no leader, no vote).
 */
export type NodeId = number;
export type GroupId = number;
export const NO_NODE: NodeId = 0;

export function isNodeId(n: unknown): n is NodeId {
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 0xffff_ffff;
}
