/**
 * Per-shard replica changes on a group's leader (issue 10, placement): add a learner on a node, promote it
 * once caught up, remove a replica, and move a replica from one node to another. Any hosted group: KV data
 * shards (the first one included) and the meta shard. NodeHost.addNode/removeNode (the Admin API's member
 * calls, with their own checks of an address given by the caller) change the first data shard unless the
 * call names another group (group_id).
 *
 * Invariants:
 *   - only on the group's leader (else NOT_LEADER with the leader hint); every change passes the membership
 *     guard (membership-guard.ts: learners first, promotion only once caught up, strict quorum check);
 *   - one change at a time per (group, node): the same call again joins the running one, another is refused
 *     as retryable (UNAVAILABLE); at most one entry per (group, node), removed when the call ends;
 *   - a learner is added only at an address this node knows (the address book, taught by config entries,
 *     snapshots, handshakes or learnNodeAddress); its config entry carries it (membership.ts context);
 *   - every step is idempotent (already a learner / voter / not a member: nothing to do), so a caller may
 *     retry a move that failed half-way (leadership moved, timeout) and it continues where it stopped;
 *   - a move never lowers the voter count: learner, caught up, promoted, and only then the source removed.
 * The removed replica destroys itself on its node once it applied its removal (replica-destroy.ts).
 */
import { NO_NODE, TesseraError, type GroupId, type NodeId } from '../base';
import type { MembershipChange } from '../raft';
import type { AddressBook } from './address-book';
import type { Group } from './group';
import { encodeMemberContext, membersOf } from './membership';
import type { GuardDecision, GuardedChange } from './membership-guard';
import type { MemberInfo } from './types';

export type ReplicaChangeKind = 'addLearner' | 'promoteLearner' | 'removeReplica';
export interface ReplicaChange {
  kind: ReplicaChangeKind;
  node: NodeId;
}

const KINDS: ReadonlySet<string> = new Set(['addLearner', 'promoteLearner', 'removeReplica']);

/** What the host lends: its group lookup, guard and proposal paths (NodeHost's private methods). */
export interface ReplicaChangeDeps {
  self: NodeId;
  addresses: AddressBook;
  group(groupId: GroupId): Group;
  notLeader(g: Group): TesseraError;
  guard(g: Group, change: GuardedChange, catchUpIndex: number): GuardDecision;
  awaitCaughtUp(g: Group, node: NodeId, deadline: number, timeoutMs: number): Promise<void>;
  changeMembership(g: Group, change: MembershipChange, timeoutMs: number): Promise<void>;
  /** Counts a change: kind, and outcome 'ok' | 'noop' | an error code. */
  count(kind: ReplicaChangeKind | 'move', outcome: string): void;
  log(info: Record<string, unknown>, message: string): void;
}

export class ReplicaChanges {
  /** Calls running, by `${group}/${node}` (see the header). */
  private readonly inFlight = new Map<string, { key: string; done: Promise<MemberInfo[]> }>();

  constructor(private readonly d: ReplicaChangeDeps) {}

  change(groupId: number, change: ReplicaChange, timeoutMs: number): Promise<MemberInfo[]> {
    const bad = argsProblem(groupId, change.node, timeoutMs);
    if (bad !== null) return Promise.reject(bad);
    if (!KINDS.has(change.kind))
      return Promise.reject(new TesseraError('INVALID_ARGUMENT', `unknown replica change ${String(change.kind)}`));
    return this.oneAtATime(groupId, change.node, change.kind, () =>
      this.counted(change.kind, groupId, change.node, () => this.changeNow(groupId as GroupId, change, timeoutMs)),
    );
  }

  move(groupId: number, from: NodeId, to: NodeId, timeoutMs: number): Promise<MemberInfo[]> {
    const bad = argsProblem(groupId, from, timeoutMs) ?? argsProblem(groupId, to, timeoutMs);
    if (bad !== null) return Promise.reject(bad);
    if (from === to)
      return Promise.reject(new TesseraError('INVALID_ARGUMENT', `cannot move a replica of node ${from} to itself`));
    return this.oneAtATime(groupId, to, `move ${from}`, () =>
      this.counted('move', groupId, to, () => this.moveNow(groupId as GroupId, from, to, timeoutMs)),
    );
  }

  private async moveNow(groupId: GroupId, from: NodeId, to: NodeId, timeoutMs: number): Promise<MemberInfo[]> {
    const deadline = Date.now() + timeoutMs;
    const left = (): number => Math.max(1, deadline - Date.now());
    const config = this.leader(groupId).core.status().config;
    const fromIsMember = config.voters.includes(from) || config.learners.includes(from);
    const toIsVoter = config.voters.includes(to);
    // Done already (a retried move that finished): the source is gone and the target is in.
    if (!fromIsMember && (toIsVoter || config.learners.includes(to)))
      return membersOf(this.leader(groupId), this.d.self, this.d.addresses);
    if (!fromIsMember) throw new TesseraError('INVALID_ARGUMENT', `node ${from} holds no replica of group ${groupId}`);
    const fromIsVoter = config.voters.includes(from);
    await this.changeNow(groupId, { kind: 'addLearner', node: to }, left());
    if (fromIsVoter) await this.changeNow(groupId, { kind: 'promoteLearner', node: to }, left());
    const members = await this.changeNow(groupId, { kind: 'removeReplica', node: from }, left());
    this.d.log({ group: groupId, from, to }, 'replica moved');
    return members;
  }

  private async changeNow(groupId: GroupId, change: ReplicaChange, timeoutMs: number): Promise<MemberInfo[]> {
    const deadline = Date.now() + timeoutMs;
    const g = this.leader(groupId);
    const { node } = change;
    const config = g.core.status().config;
    const isVoter = config.voters.includes(node);
    const isLearner = config.learners.includes(node);
    const members = (): MemberInfo[] => membersOf(g, this.d.self, this.d.addresses);
    switch (change.kind) {
      case 'addLearner': {
        if (isLearner || isVoter) return members(); // already holds a replica
        this.d.guard(g, { type: 'addLearner', node }, 0);
        await this.d.changeMembership(g, { type: 'addLearner', node, context: this.contextOf(node) }, timeoutMs);
        break;
      }
      case 'promoteLearner': {
        if (isVoter) return members();
        if (!isLearner)
          throw new TesseraError('INVALID_ARGUMENT', `node ${node} is not a learner of group ${groupId}; add it first`);
        await this.d.awaitCaughtUp(g, node, deadline, timeoutMs);
        const context = this.contextOf(node);
        await this.d.changeMembership(g, { type: 'addVoter', node, context }, Math.max(1, deadline - Date.now()));
        break;
      }
      case 'removeReplica': {
        if (!isVoter && !isLearner) return members();
        this.d.guard(g, { type: 'removeNode', node }, 0);
        await this.d.changeMembership(g, { type: 'removeNode', node }, timeoutMs);
        break;
      }
    }
    this.d.log({ group: groupId, kind: change.kind, node }, 'replica changed');
    return members();
  }

  /** The group, when this node leads it; NOT_LEADER otherwise. */
  private leader(groupId: GroupId): Group {
    const g = this.d.group(groupId);
    if (!g.isLeader || g.leader === NO_NODE) throw this.d.notLeader(g);
    return g;
  }

  /** The member context of a node this node knows the addresses of; INVALID_ARGUMENT otherwise. */
  private contextOf(node: NodeId): Buffer {
    const peer = this.d.addresses.peer(node);
    const client = this.d.addresses.get(node) ?? peer;
    if (peer === null || client === null)
      throw new TesseraError('INVALID_ARGUMENT', `address of node ${node} unknown on node ${this.d.self}`, { node });
    return encodeMemberContext(client, peer);
  }

  private async counted(
    kind: ReplicaChangeKind | 'move',
    groupId: number,
    node: NodeId,
    call: () => Promise<MemberInfo[]>,
  ): Promise<MemberInfo[]> {
    try {
      const members = await call();
      this.d.count(kind, 'ok');
      return members;
    } catch (e) {
      const code = e instanceof TesseraError ? e.code : 'INTERNAL';
      this.d.count(kind, code);
      this.d.log({ group: groupId, kind, node, code, err: (e as Error).message }, 'replica change failed');
      throw e;
    }
  }

  private oneAtATime(groupId: number, node: NodeId, key: string, call: () => Promise<MemberInfo[]>) {
    const slot = `${groupId}/${node}`;
    const running = this.inFlight.get(slot);
    if (running !== undefined) {
      if (running.key === key) return running.done;
      return Promise.reject(
        new TesseraError('UNAVAILABLE', `another replica change of node ${node} in group ${groupId} is running; retry`),
      );
    }
    const done = call().finally(() => {
      if (this.inFlight.get(slot)?.done === done) this.inFlight.delete(slot);
    });
    this.inFlight.set(slot, { key, done });
    return done;
  }
}

/** The arguments are hostile input (an Admin call, a placement action): ids u32 and not 0, a positive timeout. */
function argsProblem(groupId: number, node: NodeId, timeoutMs: number): TesseraError | null {
  if (!Number.isSafeInteger(groupId) || groupId < 1 || groupId > 0xffff_ffff)
    return new TesseraError('INVALID_ARGUMENT', `group id ${String(groupId)} is not a valid group id`);
  if (!Number.isSafeInteger(node) || node < 1 || node > 0xffff_ffff)
    return new TesseraError('INVALID_ARGUMENT', `node id ${String(node)} is not a valid node id`);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    return new TesseraError('INVALID_ARGUMENT', `timeout ${String(timeoutMs)} ms is not positive`);
  return null;
}
