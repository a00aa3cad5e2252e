/**
 * Where the next attempt goes. Keeps the endpoint set (the configured addresses plus leader addresses
 * learned from NOT_LEADER hints, bounded by endpointsMax, unless learning is off), which node id answers at
 * each endpoint (from Status replies), the cached leader, and a rotation cursor for calls that have no
 * leader to go to (stale reads, or leader discovery after a failure).
 * Invariants: the cached leader, when set, is one of the endpoints; picks prefer healthy endpoints and
 * fall back to the one whose unhealthy mark ends first, so a call always has somewhere to go.
 */
import { isNodeId } from '../base';
import type { ErrorDetails, NodeId } from '../base';
import { isEndpointAddress } from './endpoint';
import type { Endpoint } from './endpoint';

export class Router {
  private readonly list: Endpoint[] = [];
  private readonly byAddress = new Map<string, Endpoint>();
  private readonly addressById = new Map<NodeId, string>();
  private cursor = 0;
  leader: Endpoint | null = null;

  constructor(
    addresses: readonly string[],
    private readonly makeEndpoint: (address: string) => Endpoint,
    private readonly endpointsMax: number,
    /** Whether leader addresses from hints may be added as new endpoints (false: configured ones only). */
    private readonly learnEndpoints = true,
  ) {
    for (const a of addresses) this.add(a);
  }

  endpoints(): readonly Endpoint[] {
    return this.list;
  }

  find(address: string): Endpoint | undefined {
    return this.byAddress.get(address);
  }

  /** Adds an address (configured, or learned from a leader hint). Null when not allowed. */
  add(address: string, learned = false): Endpoint | null {
    const existing = this.byAddress.get(address);
    if (existing) return existing;
    if ((learned && !this.learnEndpoints) || this.list.length >= this.endpointsMax || !isEndpointAddress(address)) return null;
    const ep = this.makeEndpoint(address);
    this.list.push(ep);
    this.byAddress.set(address, ep);
    return ep;
  }

  learnNode(id: NodeId, address: string): void {
    if (!isNodeId(id) || !address) return;
    this.addressById.set(id, address);
    const ep = this.byAddress.get(address);
    if (ep && ep.nodeId === null) ep.nodeId = id;
  }

  addressOf(id: NodeId): string | undefined {
    return this.addressById.get(id);
  }

  /** Records that the node answering at this endpoint has this id (from its own Status reply). */
  identify(ep: Endpoint, id: NodeId): void {
    if (isNodeId(id)) ep.nodeId = id;
  }

  /**
   * The endpoint a NOT_LEADER reply points to, if it can be resolved: first an endpoint known to reach
   * that node id (so a client behind proxies or other names keeps using its own addresses), then the
   * hinted address itself.
   */
  resolveHint(details: ErrorDetails): Endpoint | null {
    const id = details.leaderId;
    if (id !== undefined) {
      for (const ep of this.list) if (ep.nodeId === id) return ep;
    }
    if (id !== undefined && details.leaderAddress) this.learnNode(id, details.leaderAddress);
    const address = details.leaderAddress ?? (id !== undefined ? this.addressById.get(id) : undefined);
    if (!address) return null;
    return this.add(address, true);
  }

  setLeader(ep: Endpoint): void {
    this.leader = ep;
  }

  forgetLeader(ep: Endpoint): void {
    if (this.leader === ep) this.leader = null;
  }

  /** For a leader-routed call: the cached leader when it is healthy, else the next endpoint in rotation. */
  pickForLeader(nowMs: number, avoid: Endpoint | null): Endpoint {
    const leader = this.leader;
    if (leader !== null && leader.isHealthy(nowMs)) return leader;
    return this.rotate(nowMs, avoid);
  }

  /** The next healthy endpoint in rotation (skipping `avoid` when there is any other choice). */
  rotate(nowMs: number, avoid: Endpoint | null): Endpoint {
    const n = this.list.length;
    let fallback: Endpoint | null = null;
    for (let i = 0; i < n; i++) {
      const ep = this.list[(this.cursor + i) % n]!;
      if (ep === avoid && n > 1) continue;
      if (ep.isHealthy(nowMs)) {
        this.cursor = (this.cursor + i + 1) % n;
        return ep;
      }
      if (fallback === null || ep.unhealthyUntilMs < fallback.unhealthyUntilMs) fallback = ep;
    }
    this.cursor = (this.cursor + 1) % n;
    return fallback ?? this.list[0]!;
  }
}
