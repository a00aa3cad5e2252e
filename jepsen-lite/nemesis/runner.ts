/**
 * Executes a nemesis plan against a cluster: one fault at a time, started and undone at its planned
 * offsets, every step logged to nemesis.jsonl. stop() cuts the current fault short (it is undone) and
 * skips the rest. Errors of a step (say, no leader to transfer from) are logged, never fatal: under
 * faults they are expected.
 *
 * A split (split.ts) is one Admin.SplitShard, following NOT_LEADER hints; a refused one is logged like any
 * other failed step. A move (move.ts) is one Admin.ListShards, then one Admin.MoveReplica or
 * Admin.TransferLeader through the shard's leader; one that got no answer in time is an instant event marked
 * indeterminate (it may have happened), a refused one an error.
 *
 * The catchup nemesis, the membership nemesis's away variant and the restart nemesis are whole choreographies
 * (catchup.ts, membership-away.ts, restart.ts) that run inside begin() and may outlast their planned end
 * (bounded: about 90 s for the first two, (SIGTERM grace + rejoin) per node for a rolling restart).
 *
 * Invariants: every begun fault is undone before run() resolves, except removed members when no leader
 * could re-add them (left in `cluster.removed` for the final recovery).
 */
import type { Random } from '../../src/base';
import type { NetworkFaults } from '../net/grudge';
import type { LeaderInfo } from '../cluster/cluster';
import { describeFault, type FaultSpec, type PlannedFault } from './plan';
import { partitionDrops } from './partitions';
import { resolveTargets } from './targets';
import type { NemesisLog } from './nemesis-log';
import { workloadMembers, type AwayCluster, type AwayContext } from './away';
import { runCatchup } from './catchup';
import { runMembershipAway } from './membership-away';
import { describeSplit, splitAt } from './split';
import { describeMove, moveStep, type MoveCluster } from './move';
import { runRestart, type RestartCluster } from './restart';

export interface NemesisCluster extends AwayCluster, MoveCluster, RestartCluster {
  network: { apply(f: NetworkFaults): void; heal(): void; nodeAddress(id: number): string };
  pause(ids: readonly number[]): void;
  resume(ids: readonly number[]): void;
  transferLeader(from: LeaderInfo, to: number): Promise<void>;
}

type Undo = () => Promise<void>;

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class NemesisRunner {
  private readonly abort = new AbortController();

  constructor(
    private readonly cluster: NemesisCluster,
    private readonly plan: readonly PlannedFault[],
    private readonly rng: Random,
    private readonly log: NemesisLog,
    private readonly nowMs: () => number,
  ) {}

  stop(): void {
    this.abort.abort();
  }

  private sleepUntil(ms: number): Promise<void> {
    const wait = ms - this.nowMs();
    if (wait <= 0 || this.abort.signal.aborted) return Promise.resolve();
    const signal = this.abort.signal;
    return new Promise((resolve) => {
      const t = setTimeout(done, wait);
      function done(): void {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  async run(): Promise<void> {
    for (const entry of this.plan) {
      await this.sleepUntil(entry.startMs);
      if (this.abort.signal.aborted) break;
      let undo: Undo | null = null;
      try {
        undo = await this.begin(entry.fault);
      } catch (e) {
        this.log.write({
          type: 'error',
          kind: entry.fault.kind,
          description: describeFault(entry.fault),
          error: errText(e),
        });
      }
      if (!undo) continue;
      await this.sleepUntil(entry.endMs);
      try {
        await undo();
      } catch (e) {
        this.log.write({
          type: 'error',
          kind: entry.fault.kind,
          description: `undo ${describeFault(entry.fault)}`,
          error: errText(e),
        });
      }
    }
  }

  /** Starts a fault; resolves to its undo, or null for an instant fault. */
  private async begin(fault: FaultSpec): Promise<Undo | null> {
    const c = this.cluster;
    const desc = describeFault(fault);
    switch (fault.kind) {
      case 'kill':
      case 'pause': {
        const leader = fault.target === 'leader' ? ((await c.leader())?.leader ?? null) : null;
        const nodes = resolveTargets(fault.target, c.ids, leader, this.rng);
        if (fault.kind === 'kill') await c.kill(nodes);
        else c.pause(nodes);
        this.log.write({ type: 'start', kind: fault.kind, description: desc, nodes });
        return async () => {
          if (fault.kind === 'kill') c.restart(nodes);
          else c.resume(nodes);
          this.log.write({
            type: 'stop',
            kind: fault.kind,
            description: fault.kind === 'kill' ? 'restart' : 'resume',
            nodes,
          });
        };
      }
      case 'partition': {
        const needsLeader = fault.shape === 'isolate-leader' || fault.shape === 'one-way';
        const leader = needsLeader ? ((await c.leader())?.leader ?? null) : null;
        const p = partitionDrops(fault.shape, c.ids, leader, this.rng);
        c.network.apply({ drops: p.drops, mode: fault.mode, delayMs: 0 });
        this.log.write({ type: 'start', kind: 'partition', description: `${desc}: ${p.description}` });
        return async () => {
          c.network.heal();
          this.log.write({ type: 'stop', kind: 'partition', description: 'heal' });
        };
      }
      case 'slow': {
        c.network.apply({ drops: new Set(), mode: 'cut', delayMs: fault.delayMs });
        this.log.write({ type: 'start', kind: 'slow', description: desc });
        return async () => {
          c.network.heal();
          this.log.write({ type: 'stop', kind: 'slow', description: 'heal' });
        };
      }
      case 'transfer': {
        const l = await c.leader();
        if (!l) throw new Error('no leader to transfer from');
        const others = c.ids.filter((i) => i !== l.leader && !c.removed.has(i));
        if (others.length === 0) throw new Error('no other node to transfer to');
        const to = this.rng.pick(others);
        await c.transferLeader(l, to);
        this.log.write({
          type: 'instant',
          kind: 'transfer',
          description: `transfer leader ${l.leader} -> ${to}`,
          nodes: [l.leader, to],
        });
        return null;
      }
      case 'catchup':
        return runCatchup(this.awayContext(), fault.victim);
      case 'restart':
        return runRestart({ ...this.awayContext(), cluster: c }, fault.rolling);
      case 'split':
      case 'move':
        await this.shardStep(fault);
        return null;
      case 'membership': {
        if (fault.away) return runMembershipAway(this.awayContext());
        const l = await c.leader();
        if (!l) throw new Error('no leader to change membership through');
        // A member of the workload's group (with --shards most nodes host none of it).
        const members = await workloadMembers(c, l.leader);
        const candidates = c.ids.filter((i) => !c.removed.has(i) && (members === undefined || members.includes(i)));
        const target = this.rng.pick(candidates);
        await c.removeMember(l.leader, target, l.groupId);
        this.log.write({
          type: 'start',
          kind: 'membership',
          description: `remove node ${target} (via leader ${l.leader})`,
          nodes: [target],
        });
        return async () => {
          const now = await this.waitLeader(5000);
          if (!now) throw new Error(`no leader to re-add node ${target}; left for the final recovery`);
          await c.addMember(now.leader, target, now.groupId);
          this.log.write({
            type: 'stop',
            kind: 'membership',
            description: `re-add node ${target} (via leader ${now.leader})`,
            nodes: [target],
          });
        };
      }
    }
  }

  /** The shard nemeses' one-call steps: a split, or a replica or leader move. */
  private async shardStep(fault: FaultSpec & { kind: 'split' | 'move' }): Promise<void> {
    const c = this.cluster;
    switch (fault.kind) {
      case 'split': {
        const key = Buffer.from(fault.key);
        const done = await splitAt(c, key, this.rng);
        this.log.write({ type: 'instant', kind: 'split', description: describeSplit(key, done), nodes: done.via });
        return;
      }
      case 'move': {
        const done = await moveStep(c, this.rng, fault.prefer);
        this.log.write({
          type: 'instant',
          kind: 'move',
          description: describeMove(done),
          nodes: [done.from, done.to].filter((n) => n > 0),
          ...(done.indeterminate === null ? {} : { indeterminate: true }),
        });
        return;
      }
    }
  }

  private awayContext(): AwayContext {
    return { cluster: this.cluster, rng: this.rng, log: this.log, signal: this.abort.signal };
  }

  private async waitLeader(ms: number): Promise<LeaderInfo | null> {
    const end = this.nowMs() + ms;
    while (this.nowMs() < end) {
      const l = await this.cluster.leader();
      if (l) return l;
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  }
}
