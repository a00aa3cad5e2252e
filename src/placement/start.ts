/**
 * Wiring of the placement driver on a node (server/ calls startPlacementDriver once the NodeHost is open):
 * every node serves Raft.Placement (its report, and actions on the groups it leads); every node runs a
 * PlacementDriver, which acts only while the node leads the meta shard.
 *
 * What it reads of the node: the PlacementHost methods (node-report.ts), listNodes() for the registry, and,
 * when the node offers them, metaState() (the meta replica's state machine: registry and descriptors) and
 * applyMetaCommand() (a meta command applied on the meta leader). Without metaState the driver plans from
 * the registry and the leaders' reports only; without applyMetaCommand it does not bring the meta shard's
 * descriptors up to date (driver.ts step 4).
 */
import type { GroupId, NodeId } from '../base';
import { peerAddressOf, type NodeConfig } from '../config';
import { META_SHARD_ID, type MetaCommand, type MetaResult, type NodeState } from '../meta';
import type { Logger, NodeMetrics } from '../obs';
import type { ShardDescriptor, ShardMap } from '../shard';
import type { Transport } from '../transport';
import { PlacementDriver } from './driver';
import { buildReport, placementHandler, runAction, type PlacementHost, type ReportContext } from './node-report';
import type { RegistryNode } from './view';

/** The meta replica's reads the driver uses (MetaStateMachine has them). */
export interface MetaStateReads {
  readonly shardMap: ShardMap | null;
  readonly metaDescriptor: ShardDescriptor | null;
  nodes(): { id: NodeId; address: string; peerAddress?: string | null; state: NodeState }[];
}

/** What the driver needs of the node (NodeHost; the meta accessors are optional, see the header). */
export type DrivenHost = PlacementHost & {
  listNodes(): { id: NodeId; address: string; peerAddress?: string | null; state: string }[];
  metaState?(): MetaStateReads | null;
  applyMetaCommand?(command: MetaCommand, timeoutMs: number): Promise<MetaResult>;
};

const STATES: readonly string[] = ['up', 'down', 'draining', 'removed'];

function registryOf(host: DrivenHost): RegistryNode[] {
  try {
    const nodes = host.metaState?.()?.nodes() ?? host.listNodes();
    return nodes
      .filter((n) => STATES.includes(n.state))
      .map((n) => ({
        id: n.id,
        address: n.address,
        peerAddress: n.peerAddress ?? null,
        state: n.state as NodeState,
      }));
  } catch {
    return [];
  }
}

function leadsMeta(host: DrivenHost): boolean {
  try {
    return host.groupStatus(META_SHARD_ID as number as GroupId).role === 'leader';
  } catch {
    return false;
  }
}

/** Serves Raft.Placement on this node and starts its driver (idle unless it leads the meta shard). */
export function startPlacementDriver(
  host: DrivenHost,
  transport: Transport,
  config: NodeConfig,
  logger: Logger,
  metrics: NodeMetrics,
): PlacementDriver {
  const metaEpoch = (): number | null => host.metaState?.()?.metaDescriptor?.epoch ?? null;
  const ctx: ReportContext = {
    host,
    clusterId: () => transport.clusterId,
    client: config.advertiseAddress,
    peer: peerAddressOf(config),
    metaGroupId: META_SHARD_ID,
    metaEpoch,
    wallMs: () => Date.now(),
  };
  transport.setPlacementHandler(placementHandler(ctx));
  const apply = host.applyMetaCommand?.bind(host);
  const driver = new PlacementDriver({
    self: host.nodeId,
    meta: {
      groupId: META_SHARD_ID,
      isLeader: () => leadsMeta(host),
      clusterId: () => transport.clusterId,
      registry: () => registryOf(host),
      descriptors: () => {
        const m = host.metaState?.() ?? null;
        if (m === null) return [];
        return [...(m.shardMap?.descriptors() ?? []), ...(m.metaDescriptor !== null ? [m.metaDescriptor] : [])];
      },
      ...(apply !== undefined ? { apply } : {}),
    },
    local: {
      report: () => buildReport(ctx),
      act: (a, timeoutMs) => runAction(ctx, a, timeoutMs),
      gc: (shard, appliedMax) => host.destroyStaleReplica?.(shard, appliedMax) ?? 'not supported by this node',
    },
    call: (to, body, timeoutMs) => transport.placement(to, body, timeoutMs),
    ensurePeer: (id, address) => {
      if (transport.peerAddress(id) === null && address !== '') transport.setPeer(id, address);
    },
    config: {
      replicas: config.replicas,
      deadNodeTimeoutMs: config.deadNodeTimeoutMs,
      intervalMs: config.placementIntervalMs,
      balanceLeaders: config.balanceLeaders,
    },
    clock: { now: () => performance.now(), wall: () => Date.now() },
    logger: logger.child({ component: 'placement' }),
    metrics,
  });
  // --placement false: reports and actions are still served (another node's driver may run), none planned here.
  if (config.placement) driver.start();
  return driver;
}
