/**
 * L3.5 placement: the placement driver on the meta shard's leader (driver.ts), which polls every node
 * for its report, plans with the pure planner (src/shard/placement) and carries the actions out through
 * the shards' leaders over the Raft.Placement peer RPC (node-report.ts serves it on every node). Imports
 * base, shard, meta, codec, obs, transport and node (types); server/ starts it (start.ts).
 */
export {
  ACTIONS_IN_FLIGHT_MAX,
  ACTIONS_PER_LEADER_MAX,
  ACTION_TIMEOUT_MS,
  POLL_CONCURRENCY,
  PlacementDriver,
} from './driver';
export type { DriverMeta, PlacementDriverDeps } from './driver';
export { buildReport, placementHandler, runAction } from './node-report';
export type { PlacementHost, ReportContext } from './node-report';
export { startPlacementDriver } from './start';
export type { DrivenHost, MetaStateReads } from './start';
export { buildSnapshot } from './view';
export type { DriverView, RegistryNode, SnapshotInput } from './view';
export { RECORDS_PER_ROUND_MAX, nextRecordStep, plannedRecords } from './meta-record';
export {
  decodeActAnswer,
  decodeGcAnswer,
  decodeReport,
  decodeRequest,
  encodeActAnswer,
  encodeGcAnswer,
  encodeReport,
  encodeRequest,
} from './wire';
export type { ActAnswer, ActRequest, NodeReport, PlacementRequest, ReportedGroup } from './wire';
