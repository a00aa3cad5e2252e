/**
 * The fault-injectable network of one run: a LinkProxy for every directed peer link i->j (node i's
 * --peers names that proxy as j's address) and one client proxy per node (the SDK's endpoints).
 * Applying NetworkFaults sets every peer proxy's state; heal() returns every link to healthy.
 *
 * Invariants: node i never gets a real peer address, only proxy addresses; client links are never
 * faulted by partitions (like Jepsen, the clients sit outside the partitioned network).
 */
import { LinkProxy } from './link-proxy';
import { healthyLinkState, sameLinkState } from './link-state';
import { noFaults, peerLinkState, type NetworkFaults } from './grudge';
import { clientProxyPort, host, nodePort, peerProxyPort, validatePlan, type PortPlan } from './ports';

export class ClusterNetwork {
  private readonly peers = new Map<string, LinkProxy>();
  private readonly clients = new Map<number, LinkProxy>();
  private faults: NetworkFaults = noFaults;

  constructor(readonly plan: PortPlan) {
    validatePlan(plan);
    for (let i = 1; i <= plan.nodes; i++) {
      this.clients.set(
        i,
        new LinkProxy({
          name: `c->${i}`,
          listenHost: host,
          listenPort: clientProxyPort(plan, i),
          targetHost: host,
          targetPort: nodePort(plan, i),
        }),
      );
      for (let j = 1; j <= plan.nodes; j++) {
        if (i === j) continue;
        this.peers.set(
          `${i}->${j}`,
          new LinkProxy({
            name: `${i}->${j}`,
            listenHost: host,
            listenPort: peerProxyPort(plan, i, j),
            targetHost: host,
            targetPort: nodePort(plan, j),
          }),
        );
      }
    }
  }

  get nodeIds(): number[] {
    return [...this.clients.keys()];
  }

  async start(): Promise<void> {
    const all = [...this.peers.values(), ...this.clients.values()];
    try {
      for (const p of all) await p.start();
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /** The --peers value for node `id`: its own real address, and for each other node the proxy id->j. */
  peersArg(id: number): string {
    const parts: string[] = [];
    for (let j = 1; j <= this.plan.nodes; j++) {
      parts.push(`${j}=${j === id ? this.nodeAddress(j) : this.peerLink(id, j).address}`);
    }
    return parts.join(',');
  }

  nodeAddress(id: number): string {
    return `${host}:${nodePort(this.plan, id)}`;
  }

  /** The client endpoint (proxy) of node id. */
  clientEndpoint(id: number): string {
    const p = this.clients.get(id);
    if (!p) throw new RangeError(`no node ${id}`);
    return p.address;
  }

  clientEndpoints(): string[] {
    return this.nodeIds.map((id) => this.clientEndpoint(id));
  }

  peerLink(from: number, to: number): LinkProxy {
    const p = this.peers.get(`${from}->${to}`);
    if (!p) throw new RangeError(`no peer link ${from}->${to}`);
    return p;
  }

  currentFaults(): NetworkFaults {
    return this.faults;
  }

  apply(faults: NetworkFaults): void {
    this.faults = faults;
    for (const [name, proxy] of this.peers) {
      const [from, to] = name.split('->').map(Number) as [number, number];
      const next = peerLinkState(faults, from, to);
      if (!sameLinkState(next, proxy.getState())) proxy.setState(next);
    }
  }

  heal(): void {
    this.apply(noFaults);
    for (const c of this.clients.values()) c.setState(healthyLinkState());
  }

  async close(): Promise<void> {
    await Promise.all([...this.peers.values(), ...this.clients.values()].map((p) => p.close()));
  }
}
