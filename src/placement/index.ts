/**
 * L3.5 placement: drivers that carry out the pure placement plans (src/shard/placement) on a node. Imports
 * base, shard, obs and node (types); server/ starts them.
 */
export { LeaderBalancer, ownTransfers, snapshotOf } from './leader-balance';
export type { BalancedNode, LeaderBalanceOptions } from './leader-balance';
