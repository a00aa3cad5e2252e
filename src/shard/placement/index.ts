/** The placement planner: pure decisions from a cluster snapshot (see plan.ts). */
export { planPlacement, validatePlacementInput } from './plan';
export { livenessOf } from './cluster-view';
export type { Liveness } from './cluster-view';
export { defaultPlacementConfig } from './types';
export type * from './types';
