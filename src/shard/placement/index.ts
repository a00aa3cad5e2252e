/** The placement planner: pure decisions from a cluster snapshot (see plan.ts). */
export { planPlacement, validatePlacementInput } from './plan';
export { livenessOf, readCluster as readClusterView } from './cluster-view';
export type { ClusterView, Liveness, ReplicaView, ShardView } from './cluster-view';
export { defaultPlacementConfig } from './types';
export type * from './types';
