/**
 * The nemesis of the safety phase: at random intervals (from the fault mix) it partitions the network
 * (random halves, isolate one, isolate the leader, asymmetric one-way, a rolling clog of links), heals,
 * crashes nodes (now, or at a chosen point inside a later Ready), restarts them after a while, changes
 * membership (remove a voter, re-add it as a learner, promote it) and transfers leadership.
 * 'catchup' (with membership): a membership change, then a follower cut off right after it acked the change
 * but before it learned its commit, two more changes and compaction while it is away, then the heal: it
 * comes back to a commit index that covers the first change and a snapshot past the others (issue 9).
 * 'split' (mix.splits): a split command at a random key of the workload's keyspace, proposed to the leader
 * of the group that owns it, planned against that leader's epoch, with a fresh right-hand group id; at most
 * splitGroupsMax groups. Membership changes (and catchup) are off with splits (README); leader transfers
 * act on a random group's leader.
 * heal() ends all faults for the liveness phase.
 */
import type { Random } from '../../src/base';
import type { CrashPoint, FaultMix, PartitionKind } from './fault-mix';
import type { SimNetwork } from './network';
import type { SimNode } from './sim-node';
import { replicaOn, type Route } from './split-cluster';
import { rangeContains } from './split-state';

export interface FaultHost {
  now(): number;
  nodes(): readonly SimNode[];
  network: SimNetwork;
  leader(): SimNode | null;
  leaderOf(group: number): SimNode | null;
  routes(): Route[];
  nextGroupId(): number;
  trace(text: string): void;
}

type Action = 'partition' | 'heal' | 'crash' | 'membership' | 'transfer' | 'catchup' | 'split';

/** The most groups a seed splits into; split command op ids start here (client op ids stay below). */
const splitGroupsMax = 5;
const splitOpBase = 1_000_000_000;

/** The scripted steps of a 'catchup' action still to come, each at its tick. */
interface CatchupPlan {
  target: number;
  isolateAt: number;
  /** Ticks of the changes made while the target is away (its log ends before them). */
  changesAt: number[];
  healAt: number;
}

export class FaultScheduler {
  private nextFaultTick: number;
  /** node id -> tick at which it restarts */
  private readonly restartAt = new Map<number, number>();
  private readonly actions: Action[] = [];
  private clogUntil = 0;
  private catchup: CatchupPlan | null = null;
  membershipChanges = 0;
  transfers = 0;
  crashes = 0;
  partitions = 0;
  splits = 0;

  constructor(
    private readonly random: Random,
    private readonly mix: FaultMix,
    private readonly host: FaultHost,
  ) {
    this.nextFaultTick = this.interval();
    this.actions.push('heal');
    if (mix.partitions.length > 0) this.actions.push('partition', 'partition');
    if (mix.crashes) this.actions.push('crash', 'crash');
    if (mix.membership && !mix.splits) this.actions.push('membership', 'catchup');
    if (mix.splits && mix.moves) this.actions.push('membership');
    if (mix.transfers) this.actions.push('transfer');
    if (mix.splits) this.actions.push('split', 'split');
  }

  onTick(): void {
    const now = this.host.now();
    for (const [id, at] of this.restartAt) {
      if (at > now) continue;
      this.restartAt.delete(id);
      const n = this.host.nodes().find((x) => x.id === id)!;
      if (!n.alive) n.start();
    }
    // A crash scheduled at a Ready point may have fired since: schedule the restart.
    for (const n of this.host.nodes()) {
      if (!n.alive && !this.restartAt.has(n.id))
        this.restartAt.set(n.id, now + this.random.int(...this.mix.restartAfterTicks));
    }
    if (this.clogUntil > now && this.random.chance(0.1)) this.clogRandomLink(now);
    if (this.catchup) this.stepCatchup(this.catchup, now);
    if (now < this.nextFaultTick) return;
    this.nextFaultTick = now + this.interval();
    this.act(this.random.pick(this.actions), now);
  }

  /** End of the safety phase: heal the network and restart every crashed node. */
  heal(): void {
    this.host.network.healAll();
    this.clogUntil = 0;
    this.catchup = null;
    this.restartAt.clear();
    for (const n of this.host.nodes()) {
      n.cancelScheduledCrash();
      if (!n.alive) n.start();
    }
    this.host.trace('nemesis: heal all, restart all');
  }

  private interval(): number {
    return this.random.int(this.mix.faultEveryTicks[0], this.mix.faultEveryTicks[1]);
  }

  private act(action: Action, now: number): void {
    switch (action) {
      case 'heal':
        this.host.network.healPartitions();
        this.host.trace('nemesis: heal partitions');
        return;
      case 'partition':
        this.partition(this.random.pick(this.mix.partitions), now);
        return;
      case 'crash':
        this.crash();
        return;
      case 'membership':
        this.membership();
        return;
      case 'transfer':
        this.transfer();
        return;
      case 'catchup':
        this.startCatchup(now);
        return;
      case 'split':
        this.split();
        return;
    }
  }

  private split(): void {
    const routes = this.host.routes();
    if (routes.length >= splitGroupsMax) return;
    const key = `k${this.random.int(1, this.mix.keys + 1)}`;
    const group = routes.find((r) => rangeContains(r.range, key))?.group ?? 1;
    const leader = this.host.leaderOf(group);
    const range = leader?.sm?.range;
    if (!leader || !range) return;
    const right = this.host.nextGroupId();
    const cmd = {
      op: splitOpBase + right,
      t: 'split' as const,
      k: key,
      epoch: range.epoch,
      newEpoch: range.epoch + 1,
      right,
    };
    const out = leader.propose(cmd);
    this.splits++;
    this.host.trace(
      `nemesis: split g${group} at ${key} -> g${right} via n${leader.id}: ${out.ok ? `index ${out.index}` : out.reason}`,
    );
  }

  private startCatchup(now: number): void {
    const leader = this.host.leader();
    if (this.catchup || !leader?.core) return;
    const cfg = leader.core.status().config;
    const followers = this.host
      .nodes()
      .filter((n) => n.alive && n.id !== leader.id && (cfg.voters.includes(n.id) || cfg.learners.includes(n.id)));
    if (followers.length === 0) return;
    const target = this.random.pick(followers).id;
    this.membership(target);
    const isolateAt = now + this.random.int(1, 4);
    const changeAt = isolateAt + this.random.int(10, 30);
    const change2At = changeAt + this.random.int(10, 30);
    this.catchup = { target, isolateAt, changesAt: [changeAt, change2At], healAt: change2At + this.random.int(20, 60) };
    this.host.trace(`nemesis: catchup of n${target} planned`);
  }

  private logOf(id: number): string {
    const st = this.host
      .nodes()
      .find((n) => n.id === id)
      ?.core?.status();
    return st ? `log ${st.firstIndex}..${st.lastIndex} commit ${st.commit}` : 'down';
  }

  private stepCatchup(plan: CatchupPlan, now: number): void {
    const ids = this.ids();
    if (now === plan.isolateAt) {
      this.host.network.healPartitions();
      this.host.network.partition(
        [plan.target],
        ids.filter((i) => i !== plan.target),
      );
      this.partitions++;
      this.host.trace(`nemesis: catchup isolates n${plan.target} (${this.logOf(plan.target)})`);
    } else if (plan.changesAt.includes(now)) {
      this.membership(plan.target);
    } else if (now >= plan.healAt) {
      this.host.network.healPartitions();
      const leader = this.host.leader();
      this.host.trace(
        `nemesis: catchup heals, n${plan.target} (${this.logOf(plan.target)}) comes back; leader ${leader ? `n${leader.id} (${this.logOf(leader.id)})` : 'none'}`,
      );
      this.catchup = null;
    }
  }

  private ids(): number[] {
    return this.host.nodes().map((n) => n.id);
  }

  private partition(kind: PartitionKind, now: number): void {
    const net = this.host.network;
    const ids = this.ids();
    this.partitions++;
    net.healPartitions();
    switch (kind) {
      case 'halves': {
        const shuffled = this.random.shuffle([...ids]);
        const cut = this.random.int(1, ids.length - 1);
        net.partition(shuffled.slice(0, cut), shuffled.slice(cut));
        this.host.trace(`nemesis: partition ${shuffled.slice(0, cut).join(',')} | ${shuffled.slice(cut).join(',')}`);
        return;
      }
      case 'isolateOne':
      case 'isolateLeader': {
        const leader = this.host.leader();
        const target =
          leader && (kind === 'isolateLeader' || this.random.chance(this.mix.leaderBias))
            ? leader.id
            : this.random.pick(ids);
        net.partition(
          [target],
          ids.filter((i) => i !== target),
        );
        this.host.trace(`nemesis: isolate n${target}${kind === 'isolateLeader' ? ' (leader)' : ''}`);
        return;
      }
      case 'oneWay': {
        const from = this.random.pick(ids);
        const cut = this.random.shuffle(ids.filter((i) => i !== from)).slice(0, this.random.int(1, ids.length - 1));
        for (const to of cut) net.block(from, to);
        this.host.trace(`nemesis: one-way cut n${from} -> ${cut.join(',')}`);
        return;
      }
      case 'clog':
        this.clogUntil = now + this.random.int(50, 200);
        this.clogRandomLink(now);
        return;
    }
  }

  private clogRandomLink(now: number): void {
    const ids = this.ids();
    const from = this.random.pick(ids);
    const to = this.random.pick(ids.filter((i) => i !== from));
    const extra = this.random.int(5, 40);
    this.host.network.clog(from, to, now + this.random.int(10, 60), extra);
    this.host.trace(`nemesis: clog n${from} -> n${to} +${extra} ticks`);
  }

  private crash(): void {
    const alive = this.host.nodes().filter((n) => n.alive);
    if (alive.length === 0) return;
    const leader = this.host.leader();
    const target = leader && this.random.chance(this.mix.leaderBias) ? leader : this.random.pick(alive);
    const point: CrashPoint =
      this.mix.splits && this.random.chance(0.25) ? 'beforeSplitStart' : this.random.pick(this.mix.crashPoints);
    this.crashes++;
    this.host.trace(`nemesis: crash n${target.id} at ${point}`);
    target.scheduleCrash(point);
  }

  /** Proposes the next change of the remove / re-add as learner / promote cycle, never about `keep`. */
  private membership(keep = 0): void {
    // With splits (moves), any group's leader, as transfer() picks one.
    const routes = this.mix.splits ? this.host.routes() : [];
    const leader = routes.length > 1 ? this.host.leaderOf(this.random.pick(routes).group) : this.host.leader();
    if (!leader?.core) return;
    const cfg = leader.core.status().config;
    if (cfg.votersOutgoing.length > 0) return;
    const members = new Set([...cfg.voters, ...cfg.learners]);
    const absent = this.ids().filter((i) => !members.has(i) && i !== keep);
    // With moves, only a learner that caught up is promoted (as the placement driver does: replica-change.ts
    // awaits the catch-up); an uninitialized or tombstoned one made a voter could hold the quorum hostage.
    const caughtUp = (i: number): boolean => {
      if (!this.mix.moves) return true;
      const r = replicaOn(this.host.nodes()[i - 1], leader.group);
      return !!r?.sm && r.sm.range !== null && r.tombstone === null && r.sm.applied + 10 >= leader.sm!.applied;
    };
    const learners = cfg.learners.filter((i) => i !== keep && caughtUp(i));
    const voters = cfg.voters.filter((i) => i !== keep && i !== leader.id);
    const minVoters = this.mix.nodeCount === 5 ? 3 : 2;
    let change: Parameters<SimNode['proposeMembership']>[0] | null = null;
    if (absent.length > 0) change = { type: 'addLearner', node: this.random.pick(absent) };
    else if (learners.length > 0) change = { type: 'addVoter', node: this.random.pick(learners) };
    else if (cfg.voters.length > minVoters && voters.length > 0)
      change = { type: 'removeNode', node: this.random.pick(keep === 0 ? cfg.voters : voters) };
    if (!change) return;
    const out = leader.proposeMembership(change);
    this.membershipChanges++;
    const g = leader.group === 1 ? '' : ` g${leader.group}`;
    this.host.trace(
      `nemesis: membership${g} ${change.type} n${change.node} via n${leader.id}: ${out.ok ? `index ${out.index}` : out.reason}`,
    );
  }

  private transfer(): void {
    // With splits, any group's leader (its routes are the groups that own keys).
    const routes = this.mix.splits ? this.host.routes() : [];
    const leader = routes.length > 1 ? this.host.leaderOf(this.random.pick(routes).group) : this.host.leader();
    if (!leader?.core) return;
    const voters = leader.core.status().config.voters.filter((v) => v !== leader.id);
    if (voters.length === 0) return;
    const to = this.random.pick(voters);
    const out = leader.transferLeader(to);
    this.transfers++;
    const g = leader.group === 1 ? '' : ` g${leader.group}`;
    this.host.trace(`nemesis: transfer${g} n${leader.id} -> n${to}: ${out.ok ? 'ok' : out.reason}`);
  }
}
