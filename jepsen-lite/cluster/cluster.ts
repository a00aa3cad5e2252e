/**
 * A real Tessera cluster under test: N `tessera start` processes, each with its own data directory and
 * log file under the run folder, wired through a ClusterNetwork of fault proxies. Offers the operations
 * the nemeses need (kill / restart, pause / resume, leader lookup, leader transfer, membership change)
 * and `recover()` that undoes every fault.
 *
 * Invariants: node i's --peers lists proxy addresses for every other node; the harness talks to Admin on
 * the real addresses; paused nodes are never queried (a stopped process would only time out).
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { ClusterNetwork } from '../net/cluster-network';
import { host, httpPort, type PortPlan } from '../net/ports';
import { NodeProcess, type StopOutcome, type UnexpectedExit } from './node-process';
import { AdminClient, type GroupInfo, type NodeStatus } from './admin-client';
import type { ReplicaDigest } from '../checker/divergence';
import { Client } from '../../src/client';

export interface ClusterOptions {
  plan: PortPlan;
  outDir: string;
  /** The node executable, e.g. [process.execPath, '<repo>/dist/cmd/tessera.js']. */
  command: string[];
  /** Extra flags appended to every node's `start` command. */
  nodeArgs: string[];
  cwd: string;
  now: () => number;
}

export interface LeaderInfo {
  leader: number;
  term: number;
  groupId: number;
}

/** The --cluster-token of a run's nodes (the hostile nemesis's insider derives the cluster id from it). */
export const clusterTokenOf = (basePort: number): string => `jepsen-lite-${basePort}`;

/** The key every workload key sorts near: leader lookups use the group whose range holds it. */
export const workloadKeyProbe = Buffer.from('jl/');

function groupHolds(g: GroupInfo, key: Buffer): boolean {
  if (g.kind === 'meta') return false;
  const start = g.start ?? Buffer.alloc(0);
  const end = g.end ?? Buffer.alloc(0);
  return Buffer.compare(start, key) <= 0 && (end.length === 0 || Buffer.compare(key, end) < 0);
}

export class Cluster {
  readonly network: ClusterNetwork;
  readonly nodes = new Map<number, NodeProcess>();
  private readonly admins = new Map<number, AdminClient>();
  /** Nodes removed from the membership by the membership nemesis (still running). */
  readonly removed = new Set<number>();
  private ballastClient: Client | null = null;

  constructor(private readonly opts: ClusterOptions) {
    this.network = new ClusterNetwork(opts.plan);
    for (let id = 1; id <= opts.plan.nodes; id++) {
      const dataDir = join(opts.outDir, 'nodes', `n${id}`, 'data');
      mkdirSync(dataDir, { recursive: true });
      const args = [
        'start',
        '--id',
        String(id),
        '--listen',
        this.network.nodeAddress(id),
        '--peers',
        this.network.peersArg(id),
        '--data-dir',
        dataDir,
        '--http',
        `${host}:${httpPort(opts.plan, id)}`,
        // Each node reaches the others through its own proxies, so their --peers differ: a cluster id derived
        // from --peers would differ per node and the peer handshake would refuse them. One token per run.
        '--cluster-token',
        clusterTokenOf(opts.plan.basePort),
        ...opts.nodeArgs,
      ];
      this.nodes.set(
        id,
        new NodeProcess(
          { id, command: opts.command, args, logFile: join(opts.outDir, 'nodes', `n${id}`, 'node.log'), cwd: opts.cwd },
          opts.now,
        ),
      );
    }
  }

  get ids(): number[] {
    return [...this.nodes.keys()];
  }

  node(id: number): NodeProcess {
    const n = this.nodes.get(id);
    if (!n) throw new RangeError(`no node ${id}`);
    return n;
  }

  admin(id: number): AdminClient {
    let a = this.admins.get(id);
    if (!a) {
      a = new AdminClient(this.network.nodeAddress(id));
      this.admins.set(id, a);
    }
    return a;
  }

  /** If the harness exits without stop() (a crash, Ctrl-C), its node processes must not outlive it. */
  private readonly killOnExit = (): void => {
    for (const n of this.nodes.values()) n.killNow();
  };

  async start(): Promise<void> {
    process.once('exit', this.killOnExit);
    await this.network.start();
    for (const n of this.nodes.values()) n.start();
  }

  /** Statuses of every running node that answers within timeoutMs. */
  async statuses(timeoutMs = 800): Promise<Map<number, NodeStatus>> {
    const out = new Map<number, NodeStatus>();
    await Promise.all(
      this.ids.map(async (id) => {
        if (this.node(id).state !== 'running') return;
        try {
          out.set(id, await this.admin(id).status(timeoutMs));
        } catch {
          // down, starting or partitioned from the operator: no answer
        }
      }),
    );
    return out;
  }

  /** The node that itself reports being leader of the workload's group, at the highest term. */
  async leader(timeoutMs = 800): Promise<LeaderInfo | null> {
    const statuses = await this.statuses(timeoutMs);
    let best: LeaderInfo | null = null;
    for (const [id, st] of statuses) {
      const g = (st.groups ?? []).find((x) => groupHolds(x, workloadKeyProbe)) ?? st.groups?.[0];
      if (!g) continue;
      const selfLeader = g.role?.toLowerCase() === 'leader' || (g.leader === id && !g.role);
      if (selfLeader && (!best || g.term > best.term)) best = { leader: id, term: g.term, groupId: g.groupId };
    }
    return best;
  }

  /** The members (voters and learners) of the workload's group as its leader reports them, or null. */
  async members(): Promise<number[] | null> {
    const l = await this.leader();
    if (!l) return null;
    const st = await this.admin(l.leader).status(2000);
    const g = (st.groups ?? []).find((x) => x.groupId === l.groupId);
    const ids = (g?.members ?? []).map((m) => m.id);
    // A node that lists no members (the harness's fake node) stands for: every running node not removed.
    return ids.length > 0 ? ids : this.ids.filter((i) => !this.removed.has(i) && this.node(i).state === 'running');
  }

  /** The workload group as node `id` itself reports it, or null when it does not answer (or is not running). */
  async groupStatus(id: number, timeoutMs = 800): Promise<GroupInfo | null> {
    if (this.node(id).state !== 'running') return null;
    try {
      const st = await this.admin(id).status(timeoutMs);
      return (st.groups ?? []).find((x) => groupHolds(x, workloadKeyProbe)) ?? st.groups?.[0] ?? null;
    } catch {
      return null;
    }
  }

  /** Every group node `id` reports (all its shards), or null when it does not answer (or is not running). */
  async groupsStatus(id: number, timeoutMs = 800): Promise<GroupInfo[] | null> {
    if (this.node(id).state !== 'running') return null;
    try {
      return (await this.admin(id).status(timeoutMs)).groups ?? [];
    } catch {
      return null;
    }
  }

  /**
   * One round of filler writes outside every workload's keys (jl/n/, 8 puts of 2 KiB over 1,024 keys: at most
   * 2 MiB in all), so the log grows and compacts and a snapshot takes many chunks. Resolves to the puts that
   * succeeded; never rejects.
   */
  async writeBallast(round: number): Promise<number> {
    this.ballastClient ??= new Client({ endpoints: this.network.clientEndpoints(), deadlineMs: 2000 });
    const c = this.ballastClient;
    const puts = Array.from({ length: 8 }, (_, i) => {
      const key = Buffer.from(`jl/n/${String((round * 8 + i) % 1024).padStart(4, '0')}`);
      return c.put(key, Buffer.alloc(2048, (round + i) % 251)).then(
        () => 1,
        () => 0,
      );
    });
    return (await Promise.all(puts)).reduce<number>((a, b) => a + b, 0);
  }

  /**
   * The data shards (kind 'data', or every group from a node that reports no kind) with their members, over
   * every running node that answers: with more nodes than replicas (and replica moves) no one node hosts
   * every shard. A shard's members are taken from its leader's report (at the highest term), else from any
   * replica's, so a replica that has not yet learned of its removal does not add itself. Null: no answer.
   */
  async dataGroups(): Promise<Map<number, number[]> | null> {
    const statuses = await this.statuses(2000);
    if (statuses.size === 0) return null;
    const best = new Map<number, { ids: number[]; leads: boolean; term: number }>();
    for (const st of statuses.values())
      for (const g of st.groups ?? []) {
        if (g.kind === 'meta') continue;
        const leads = g.role?.toLowerCase() === 'leader';
        const cur = best.get(g.groupId);
        if (cur && ((cur.leads && !leads) || (cur.leads === leads && cur.term >= g.term))) continue;
        best.set(g.groupId, { ids: (g.members ?? []).map((m) => m.id), leads, term: g.term });
      }
    const out = new Map<number, number[]>();
    for (const [groupId, { ids }] of best)
      out.set(
        groupId,
        ids.length > 0 ? ids : this.ids.filter((i) => !this.removed.has(i) && this.node(i).state === 'running'),
      );
    return out;
  }

  /** Node `id`'s own digest of a group (0: the group holding the whole keyspace). */
  async digest(id: number, groupId = 0): Promise<ReplicaDigest> {
    return this.admin(id).digest(groupId);
  }

  async waitForLeader(timeoutMs: number): Promise<LeaderInfo | null> {
    const end = this.opts.now() + timeoutMs;
    while (this.opts.now() < end) {
      const l = await this.leader();
      if (l) return l;
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  }

  async kill(ids: readonly number[]): Promise<void> {
    await Promise.all(ids.map((id) => this.node(id).kill()));
  }

  /** Graceful stop (the restart nemesis): SIGTERM, SIGKILL after graceMs; resolves with how it exited. */
  terminate(id: number, graceMs: number): Promise<StopOutcome> {
    return this.node(id).terminate(graceMs);
  }

  restart(ids: readonly number[]): void {
    for (const id of ids) if (this.node(id).state === 'stopped') this.node(id).start();
  }

  pause(ids: readonly number[]): void {
    for (const id of ids) this.node(id).pause();
  }

  resume(ids: readonly number[]): void {
    for (const id of ids) this.node(id).resume();
  }

  /** Undo every fault: continue paused nodes, start stopped ones, heal the network. Membership is
   * restored separately (it needs a leader). */
  recoverProcessesAndNetwork(): void {
    for (const n of this.nodes.values()) {
      if (n.state === 'paused') n.resume();
      if (n.state === 'stopped') n.start();
    }
    this.network.heal();
  }

  /** Asks the leader to hand its group over to `to`. */
  async transferLeader(from: LeaderInfo, to: number): Promise<void> {
    await this.admin(from.leader).transferLeader(from.groupId, to);
  }

  /**
   * Removes `id` from the membership of group `groupId` (0: the first data shard; the nemeses pass the
   * workload's group) through its leader; the process keeps running.
   */
  async removeMember(leader: number, id: number, groupId = 0): Promise<void> {
    await this.admin(leader).removeNode(id, groupId);
    this.removed.add(id);
  }

  /** Re-adds `id` as a voter of group `groupId` through its leader, at the address the leader uses for it. */
  async addMember(leader: number, id: number, groupId = 0): Promise<void> {
    const address = leader === id ? this.network.nodeAddress(id) : this.network.peerLink(leader, id).address;
    await this.admin(leader).addNode(id, address, false, groupId);
    this.removed.delete(id);
  }

  unexpectedExits(): UnexpectedExit[] {
    return [...this.nodes.values()].flatMap((n) => n.unexpectedExits);
  }

  async stop(): Promise<void> {
    process.off('exit', this.killOnExit);
    await this.ballastClient?.close();
    this.ballastClient = null;
    for (const a of this.admins.values()) a.close();
    this.admins.clear();
    await Promise.all([...this.nodes.values()].map((n) => n.stop()));
    await this.network.close();
  }
}
