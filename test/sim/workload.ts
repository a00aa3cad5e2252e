/**
 * The client workload: a few clients, each with at most one operation outstanding (put, CAS or
 * linearizable read on a small key set). A client sends to the node it believes leads (hints from
 * rejected proposals), retries on rejection, on a crash of that node and on timeout, re-proposing the
 * same operation id (the state machine deduplicates by it). A write is acknowledged only by the node it
 * was proposed to, when that node applies it; a read when that node has applied up to its read index.
 * Every acknowledgement goes through the checkers with the cluster-wide commit index at invocation.
 * With splits, a client routes each key to a group by its own view of the routing table (null until it
 * first hears WRONG_SHARD: everything in SIM_GROUP). WRONG_SHARD (a replica that does not own the key when
 * asked, a write applied after a split took its key, a read whose key left the group) is a definite
 * refusal: the client refreshes its view (host.routes(), the groups' canonical ranges) and retries the same
 * operation id on the group that owns the key now.
 */
import type { Random } from '../../src/base';
import type { SimCommand, SimResult } from './command-codec';
import type { SimNode } from './sim-node';
import type { Route } from './split-cluster';
import { rangeContains } from './split-state';

export interface WorkloadHost {
  now(): number;
  /** The replicas of a group (SIM_GROUP: every node). */
  replicas(group: number): readonly SimNode[];
  globalCommit(): number;
  /** Each group's commit (null while there is one group). */
  globalCommits(): Map<number, number> | null;
  routes(): Route[];
  trace(text: string): void;
  onWriteAck(op: ClientOp, result: SimResult): void;
  onReadAck(op: ClientOp, value: string | null, node: SimNode): void;
}

export interface ClientOp {
  id: number;
  client: number;
  kind: 'put' | 'cas' | 'read';
  key: string;
  value: string;
  expected: string | null;
  invokedTick: number;
  /** Cluster-wide commit index when invoked (of SIM_GROUP). */
  c0: number;
  /** With several groups: each group's commit index when invoked. */
  c0s: Map<number, number> | null;
  attempts: number;
}

interface Attempt {
  node: SimNode;
  incarnation: number;
  deadline: number;
  readContext: number;
}

interface Client {
  id: number;
  op: ClientOp | null;
  attempt: Attempt | null;
  nextActionTick: number;
  remaining: number;
  leaderHint: number;
  /** Leader hints of groups other than SIM_GROUP. */
  hints: Map<number, number>;
  /** The client's routing table (null: the whole keyspace in SIM_GROUP). */
  view: Route[] | null;
  lastSeen: Map<string, string | null>;
  written: number;
}

const attemptTimeoutTicks = 60;
const retryBackoffTicks = 3;

export class Workload {
  private readonly clients: Client[] = [];
  private nextOpId = 1;
  private nextReadContext = 1;
  /** Stop issuing new operations (liveness phase); outstanding ones still complete. */
  draining = false;
  completed = 0;
  retries = 0;

  constructor(
    private readonly random: Random,
    private readonly host: WorkloadHost,
    clients: number,
    opsPerClient: number,
    private readonly keyCount: number,
  ) {
    for (let i = 1; i <= clients; i++) {
      this.clients.push({
        id: i,
        op: null,
        attempt: null,
        nextActionTick: random.int(0, 20),
        remaining: opsPerClient,
        leaderHint: 0,
        hints: new Map(),
        view: null,
        lastSeen: new Map(),
        written: 0,
      });
    }
  }

  pendingOps(): number {
    return this.clients.filter((c) => c.op !== null).length;
  }

  onTick(): void {
    const now = this.host.now();
    for (const c of this.clients) {
      if (c.attempt && (now > c.attempt.deadline || !this.attemptAlive(c.attempt))) this.abandonAttempt(c, now);
      if (now < c.nextActionTick || c.attempt) continue;
      if (!c.op) {
        if (this.draining || c.remaining === 0) continue;
        c.op = this.newOp(c, now);
        c.remaining--;
      }
      this.tryAttempt(c, now);
    }
  }

  /** A node applied a write: acknowledge it if that node holds the client's live attempt for it. */
  onWriteApplied(node: SimNode, opId: number, result: SimResult): void {
    for (const c of this.clients) {
      if (c.op?.id !== opId || !c.attempt || c.attempt.node !== node || c.attempt.incarnation !== node.incarnation)
        continue;
      const op = c.op;
      if (result.t === 'wrongShard') {
        this.wrongShard(c, node);
        continue;
      }
      this.host.trace(`client ${c.id} ack ${op.kind}#${op.id} ${JSON.stringify(result)} via n${node.id}`);
      this.host.onWriteAck(op, result);
      if (op.kind === 'cas' && result.t === 'cas') c.lastSeen.set(op.key, result.ok ? op.value : result.cur);
      else c.lastSeen.set(op.key, op.value);
      this.finish(c);
    }
  }

  onReadDone(node: SimNode, context: number, value: string | null): void {
    for (const c of this.clients) {
      if (!c.op || !c.attempt || c.attempt.readContext !== context || c.attempt.node !== node) continue;
      this.host.trace(`client ${c.id} read#${c.op.id} ${c.op.key} = ${value ?? '∅'} via n${node.id}`);
      this.host.onReadAck(c.op, value, node);
      c.lastSeen.set(c.op.key, value);
      this.finish(c);
    }
  }

  onReadFailed(node: SimNode, context: number): void {
    for (const c of this.clients) {
      if (!c.attempt || c.attempt.readContext !== context || c.attempt.node !== node) continue;
      if (c.op && node.sm && !node.sm.owns(c.op.key)) this.wrongShard(c, node);
      else this.abandonAttempt(c, this.host.now());
    }
  }

  /** WRONG_SHARD: a definite refusal; refresh the view and retry at once (same operation id). */
  private wrongShard(c: Client, node: SimNode): void {
    this.host.trace(
      `client ${c.id} ${c.op?.kind}#${c.op?.id} ${c.op?.key}: WRONG_SHARD from n${node.id} g${node.group}`,
    );
    c.attempt = null;
    c.view = this.host.routes();
    // The replica that refused is no leader hint any more (it may be an uninitialized one, after a move).
    if (node.group === 1 && c.leaderHint === node.id) c.leaderHint = 0;
    if (c.hints.get(node.group) === node.id) c.hints.delete(node.group);
    c.nextActionTick = this.host.now() + 1;
    this.retries++;
  }

  private groupOf(c: Client, key: string): number {
    if (c.view === null) return 1;
    return c.view.find((r) => rangeContains(r.range, key))?.group ?? 1;
  }

  private finish(c: Client): void {
    c.op = null;
    c.attempt = null;
    c.nextActionTick = this.host.now() + this.random.int(1, 15);
    this.completed++;
  }

  private attemptAlive(a: Attempt): boolean {
    return a.node.alive && a.node.incarnation === a.incarnation;
  }

  private abandonAttempt(c: Client, now: number): void {
    c.attempt = null;
    c.leaderHint = 0;
    c.hints.clear();
    c.nextActionTick = now + retryBackoffTicks;
    this.retries++;
  }

  private newOp(c: Client, now: number): ClientOp {
    const key = `k${this.random.int(1, this.keyCount)}`;
    const roll = this.random.float();
    const kind: ClientOp['kind'] = roll < 0.4 ? 'put' : roll < 0.7 ? 'cas' : 'read';
    const value = `c${c.id}v${++c.written}`;
    let expected: string | null = null;
    if (kind === 'cas')
      expected = this.random.chance(0.8) ? (c.lastSeen.get(key) ?? null) : `c${c.id}v${this.random.int(1, c.written)}`;
    const op: ClientOp = {
      id: this.nextOpId++,
      client: c.id,
      kind,
      key,
      value,
      expected,
      invokedTick: now,
      c0: this.host.globalCommit(),
      c0s: this.host.globalCommits(),
      attempts: 0,
    };
    this.host.trace(
      `client ${c.id} invoke ${kind}#${op.id} ${key}${kind === 'read' ? '' : `=${value}`}${kind === 'cas' ? ` if ${expected ?? '∅'}` : ''} c0=${op.c0}`,
    );
    return op;
  }

  private pickNode(c: Client, group: number): SimNode | null {
    const nodes = this.host.replicas(group);
    const hint = group === 1 ? c.leaderHint : (c.hints.get(group) ?? 0);
    const hinted = nodes.find((n) => n.id === hint && n.alive);
    if (hinted) return hinted;
    const alive = nodes.filter((n) => n.alive);
    return alive.length > 0 ? this.random.pick(alive) : null;
  }

  private tryAttempt(c: Client, now: number): void {
    const op = c.op!;
    const group = this.groupOf(c, op.key);
    const node = this.pickNode(c, group);
    if (!node) {
      c.nextActionTick = now + retryBackoffTicks;
      return;
    }
    op.attempts++;
    if (node.sm && !node.sm.owns(op.key)) {
      // The replica answers WRONG_SHARD at once (its range, as NodeHost checks a request's key).
      this.wrongShard(c, node);
      return;
    }
    if (op.kind === 'read') {
      const ctx = this.nextReadContext++;
      // Register before calling: the answer may arrive synchronously inside readIndex().
      c.attempt = { node, incarnation: node.incarnation, deadline: now + attemptTimeoutTicks, readContext: ctx };
      const out = node.readIndex(ctx, op.key);
      if (!out.ok && c.op === op) this.rejected(c, now, out.leader, group);
      return;
    }
    const command: SimCommand =
      op.kind === 'put'
        ? { op: op.id, t: 'put', k: op.key, v: op.value }
        : { op: op.id, t: 'cas', k: op.key, e: op.expected, v: op.value };
    c.attempt = { node, incarnation: node.incarnation, deadline: now + attemptTimeoutTicks, readContext: 0 };
    const out = node.propose(command);
    if (!out.ok && c.op === op) this.rejected(c, now, out.leader, group);
  }

  private rejected(c: Client, now: number, leader: number, group: number): void {
    c.attempt = null;
    if (group === 1) c.leaderHint = leader;
    else c.hints.set(group, leader);
    c.nextActionTick = now + (leader !== 0 ? 1 : retryBackoffTicks);
  }
}
