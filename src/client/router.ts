/**
 * Where the next attempt goes. Keeps the endpoint set (the configured addresses plus leader addresses
 * learned from NOT_LEADER hints, bounded by endpointsMax, unless learning is off), which node id answers at
 * each endpoint (from Status replies), the cached leader, and a rotation cursor for calls that have no
 * leader to go to (stale reads, or leader discovery after a failure).
 * Trust: a NOT_LEADER hint is only followed to an address the client learned from the cluster itself:
 * a configured endpoint, or a voter that a configured endpoint's Status reported (learnStatus). A hint
 * naming any other address resolves to 'unknown' (the invoker may refresh the members once, then
 * ignores it), so a forged hint cannot send writes or reads to an attacker's address.
 * Invariants: the cached leader, when set, is one of the endpoints; picks prefer healthy endpoints and
 * fall back to the one whose unhealthy mark ends first, so a call always has somewhere to go; every
 * endpoint's address is configured or a member address learned from a configured endpoint.
 */
import { isNodeId } from '../base';
import type { ErrorDetails, NodeId } from '../base';
import { isEndpointAddress } from './endpoint';
import type { Endpoint } from './endpoint';

/** Where a NOT_LEADER hint points: a known endpoint, an address not learned from the cluster, or nowhere. */
export type HintResolution =
  { kind: 'endpoint'; endpoint: Endpoint } | { kind: 'unknown'; address: string } | { kind: 'none' };

/** What a Status reply says about membership (the wire shape, reduced). */
export interface StatusMembers {
  nodeId: NodeId;
  address: string;
  groups: readonly { members: readonly { id: NodeId; address: string; voter: boolean }[] }[];
}

const NO_HINT: HintResolution = { kind: 'none' };
/** Bound on the member addresses remembered (a cluster is far smaller). */
const MEMBER_ADDRESSES_MAX = 1024;

export class Router {
  private readonly list: Endpoint[] = [];
  private readonly byAddress = new Map<string, Endpoint>();
  /** Addresses the user gave (constructor, or an explicit status({ endpoint })). */
  private readonly configured = new Set<string>();
  /** Voter addresses reported by the Status of a configured endpoint, by node id. */
  private readonly addressById = new Map<NodeId, string>();
  private readonly memberAddresses = new Set<string>();
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

  /**
   * Adds an address: configured by the user, or (learned) a member address from a leader hint, which must
   * be a member learned from a configured endpoint's Status. Null when not allowed.
   */
  add(address: string, learned = false): Endpoint | null {
    const existing = this.byAddress.get(address);
    if (existing) return existing;
    if (learned && (!this.learnEndpoints || !this.memberAddresses.has(address))) return null;
    if (this.list.length >= this.endpointsMax || !isEndpointAddress(address)) return null;
    const ep = this.makeEndpoint(address);
    this.list.push(ep);
    this.byAddress.set(address, ep);
    if (!learned) this.configured.add(address);
    return ep;
  }

  isConfigured(ep: Endpoint): boolean {
    return this.configured.has(ep.address);
  }

  /** The configured endpoints (the ones whose Status teaches members). */
  configuredEndpoints(): Endpoint[] {
    return this.list.filter((ep) => this.configured.has(ep.address));
  }

  /**
   * Learns from a Status reply that `source` answered: which node answers there, and, when `source` is a
   * configured endpoint, the voters of its groups (the only addresses hints may lead to besides the
   * configured ones). A reply whose source is unknown or not configured teaches no members.
   */
  learnStatus(source: Endpoint | null, s: StatusMembers): void {
    if (source === null) return;
    this.identify(source, s.nodeId);
    if (!this.configured.has(source.address)) return;
    this.learnMember(s.nodeId, s.address);
    for (const g of s.groups) for (const m of g.members) if (m.voter) this.learnMember(m.id, m.address);
  }

  private learnMember(id: NodeId, address: string): void {
    if (!isNodeId(id) || !isEndpointAddress(address)) return;
    if (!this.memberAddresses.has(address) && this.memberAddresses.size >= MEMBER_ADDRESSES_MAX) return;
    this.addressById.set(id, address);
    this.memberAddresses.add(address);
    const ep = this.byAddress.get(address);
    if (ep && ep.nodeId === null) ep.nodeId = id;
  }

  addressOf(id: NodeId): string | undefined {
    return this.addressById.get(id);
  }

  /** Whether `address` is configured or a member learned from a configured endpoint. */
  isKnownAddress(address: string): boolean {
    return this.configured.has(address) || this.memberAddresses.has(address);
  }

  /** Records that the node answering at this endpoint has this id (from its own Status reply). */
  identify(ep: Endpoint, id: NodeId): void {
    if (isNodeId(id)) ep.nodeId = id;
  }

  /**
   * Where a NOT_LEADER reply points, trusting only what the client learned from the cluster: first an
   * endpoint known to reach that node id (so a client behind proxies or other names keeps using its own
   * addresses), then the address a configured endpoint's Status gave for that id, then the hinted
   * address if it is configured or a learned member. Any other hinted address is 'unknown' (never dialed
   * from the hint alone).
   */
  resolveHint(details: ErrorDetails): HintResolution {
    const id = details.leaderId;
    if (id !== undefined) {
      for (const ep of this.list) if (ep.nodeId === id) return { kind: 'endpoint', endpoint: ep };
    }
    const byId = id !== undefined ? this.addressById.get(id) : undefined;
    const address = byId ?? details.leaderAddress;
    if (!address) return NO_HINT;
    const existing = this.byAddress.get(address);
    if (existing) return { kind: 'endpoint', endpoint: existing };
    if (!this.learnEndpoints) return NO_HINT;
    if (!this.memberAddresses.has(address)) return isEndpointAddress(address) ? { kind: 'unknown', address } : NO_HINT;
    const ep = this.add(address, true);
    return ep === null ? NO_HINT : { kind: 'endpoint', endpoint: ep };
  }

  setLeader(ep: Endpoint): void {
    this.leader = ep;
  }

  forgetLeader(ep: Endpoint): void {
    if (this.leader === ep) this.leader = null;
  }

  /**
   * Adds every learned member (a voter a configured endpoint's Status reported) as an endpoint, within
   * endpointsMax: the shard list's loads then reach nodes the configured endpoints do not name (after
   * replica moves a configured node may host none of a key's shard, and its WRONG_SHARD names no owner).
   */
  includeLearnedMembers(): void {
    if (!this.learnEndpoints) return;
    for (const address of this.memberAddresses) {
      if (this.list.length >= this.endpointsMax) return;
      if (!this.byAddress.has(address)) this.add(address, true);
    }
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
