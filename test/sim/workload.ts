/**
 * The client workload: a few clients, each with at most one operation outstanding (put, CAS or
 * linearizable read on a small key set). A client sends to the node it believes leads (hints from
 * rejected proposals), retries on rejection, on a crash of that node and on timeout, re-proposing the
 * same operation id (the state machine deduplicates by it). A write is acknowledged only by the node it
 * was proposed to, when that node applies it; a read when that node has applied up to its read index.
 * Every acknowledgement goes through the checkers with the cluster-wide commit index at invocation.
 */
import type { Random } from '../../src/base';
import type { SimCommand, SimResult } from './command-codec';
import type { SimNode } from './sim-node';

export interface WorkloadHost {
  now(): number;
  nodes(): readonly SimNode[];
  globalCommit(): number;
  trace(text: string): void;
  onWriteAck(op: ClientOp, result: SimResult): void;
  onReadAck(op: ClientOp, value: string | null): void;
}

export interface ClientOp {
  id: number;
  client: number;
  kind: 'put' | 'cas' | 'read';
  key: string;
  value: string;
  expected: string | null;
  invokedTick: number;
  /** Cluster-wide commit index when invoked. */
  c0: number;
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
      this.host.onReadAck(c.op, value);
      c.lastSeen.set(c.op.key, value);
      this.finish(c);
    }
  }

  onReadFailed(node: SimNode, context: number): void {
    for (const c of this.clients) {
      if (c.attempt && c.attempt.readContext === context && c.attempt.node === node)
        this.abandonAttempt(c, this.host.now());
    }
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
      attempts: 0,
    };
    this.host.trace(
      `client ${c.id} invoke ${kind}#${op.id} ${key}${kind === 'read' ? '' : `=${value}`}${kind === 'cas' ? ` if ${expected ?? '∅'}` : ''} c0=${op.c0}`,
    );
    return op;
  }

  private pickNode(c: Client): SimNode | null {
    const nodes = this.host.nodes();
    const hinted = nodes.find((n) => n.id === c.leaderHint && n.alive);
    if (hinted) return hinted;
    const alive = nodes.filter((n) => n.alive);
    return alive.length > 0 ? this.random.pick(alive) : null;
  }

  private tryAttempt(c: Client, now: number): void {
    const op = c.op!;
    const node = this.pickNode(c);
    if (!node) {
      c.nextActionTick = now + retryBackoffTicks;
      return;
    }
    op.attempts++;
    if (op.kind === 'read') {
      const ctx = this.nextReadContext++;
      // Register before calling: the answer may arrive synchronously inside readIndex().
      c.attempt = { node, incarnation: node.incarnation, deadline: now + attemptTimeoutTicks, readContext: ctx };
      const out = node.readIndex(ctx, op.key);
      if (!out.ok && c.op === op) this.rejected(c, now, out.leader);
      return;
    }
    const command: SimCommand =
      op.kind === 'put'
        ? { op: op.id, t: 'put', k: op.key, v: op.value }
        : { op: op.id, t: 'cas', k: op.key, e: op.expected, v: op.value };
    c.attempt = { node, incarnation: node.incarnation, deadline: now + attemptTimeoutTicks, readContext: 0 };
    const out = node.propose(command);
    if (!out.ok && c.op === op) this.rejected(c, now, out.leader);
  }

  private rejected(c: Client, now: number, leader: number): void {
    c.attempt = null;
    c.leaderHint = leader;
    c.nextActionTick = now + (leader !== 0 ? 1 : retryBackoffTicks);
  }
}
