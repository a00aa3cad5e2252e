/**
 * A tiny synchronous network for RaftCore unit tests: every node persists each Ready at once (a
 * simulated durable store), messages queue in one FIFO and are delivered by stabilize(); links can be
 * cut; nodes can be crashed and restarted from what they persisted. Not the simulator (test/sim/).
 */
import { Random } from '../../../src/base';
import type { NodeId } from '../../../src/base';
import { RaftCore, defaultRaftConfig } from '../../../src/raft';
import type { ConfigState, Entry, HardState, Message, RaftConfig, ReadState, Ready, Snapshot } from '../../../src/raft';

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export interface HarnessOptions {
  electionTicks?: number;
  heartbeatTicks?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  inflightMessagesMax?: number;
  appendBytesMax?: number;
  uncommittedBytesMax?: number;
  pendingReadsMax?: number;
  lazyCommit?: boolean;
  unsafe?: RaftConfig['unsafe'];
  learners?: NodeId[];
  seed?: number;
}

export class TestNode {
  core: RaftCore;
  /** What survived on "disk". */
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  snapshot: Snapshot | null = null;
  log: Entry[] = [];
  /** The durable state machine: applied normal payloads, in order, and the applied index. */
  sm: string[] = [];
  appliedIndex = 0;
  appliedEntries: Entry[] = [];
  readStates: ReadState[] = [];
  readsFailed: { context: number; reason: string }[] = [];
  readies = 0;
  up = true;
  /** When true the node takes no Ready until released (simulates a slow disk). */
  holdReady = false;

  constructor(
    readonly id: NodeId,
    readonly config: RaftConfig,
    readonly initialConfig: ConfigState,
    private readonly seed: number,
  ) {
    this.core = this.build();
  }

  build(): RaftCore {
    const entries = this.log.slice();
    return new RaftCore(
      this.config,
      {
        hardState: { ...this.hardState },
        snapshot: this.snapshot?.meta ?? null,
        entries,
        initialConfig: this.initialConfig,
        applied: this.appliedIndex,
      },
      new Random(this.seed * 1000 + this.id + this.readies),
    );
  }

  /** Persist, hand out messages, apply, advance. */
  handleReady(out: Message[], afterPersistHook?: (rd: Ready) => void): Ready | null {
    if (!this.core.hasReady()) return null;
    const rd = this.core.ready();
    this.readies++;
    if (rd.hardState) {
      const prev = this.hardState;
      if (rd.hardState.term < prev.term || rd.hardState.commit < prev.commit)
        throw new Error(`node ${this.id}: hard state regressed`);
      this.hardState = { ...rd.hardState };
    }
    if (rd.snapshot) {
      this.snapshot = rd.snapshot;
      this.log = [];
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      const base = this.snapshot ? this.snapshot.meta.index : 0;
      this.log.length = Math.max(0, Math.min(this.log.length, first - base - 1));
      if (this.log.length !== first - base - 1)
        throw new Error(`node ${this.id}: gap in persisted log before ${first}`);
      this.log.push(...rd.entries);
    }
    afterPersistHook?.(rd);
    for (const m of rd.messagesNow) {
      if (m.type === 'snapshot') {
        if (m.snapshot.meta.index !== this.appliedIndex) throw new Error('snapshot meta not at applied index');
        out.push({ ...m, snapshot: { meta: m.snapshot.meta, data: enc(JSON.stringify(this.sm)) } });
      } else out.push(m);
    }
    out.push(...rd.messagesAfterPersist);
    if (rd.snapshot) {
      this.sm = JSON.parse(dec(rd.snapshot.data)) as string[];
      this.appliedIndex = rd.snapshot.meta.index;
    }
    for (const e of rd.committedEntries) {
      if (e.index !== this.appliedIndex + 1)
        throw new Error(`node ${this.id}: applied ${e.index} after ${this.appliedIndex}`);
      this.appliedIndex = e.index;
      this.appliedEntries.push(e);
      if (e.kind === 'normal') this.sm.push(dec(e.data));
    }
    this.readStates.push(...rd.readStates);
    this.readsFailed.push(...rd.readsFailed);
    this.core.advance(rd);
    return rd;
  }

  /** Crash and restart from what is durable (everything handed out was persisted synchronously). */
  restart(): void {
    this.core = this.build();
    this.up = true;
  }

  /** Compacts the persisted log and the core up to `index` (<= applied), as the host would. */
  compact(index: number): void {
    this.core.compact(index);
    const base = this.snapshot ? this.snapshot.meta.index : 0;
    const term = this.log[index - base - 1]!.term;
    const status = this.core.status();
    this.snapshot = { meta: { index, term, config: status.config }, data: enc(JSON.stringify(this.sm.slice())) };
    this.log = this.log.slice(index - base);
  }
}

export class Harness {
  readonly nodes = new Map<NodeId, TestNode>();
  queue: Message[] = [];
  /** Every message delivered (for assertions). */
  delivered: Message[] = [];
  private readonly cuts = new Set<string>();
  /** Messages for which this returns true are dropped. */
  dropIf: ((m: Message) => boolean) | null = null;
  private readonly seed: number;

  constructor(
    ids: NodeId[],
    private readonly opts: HarnessOptions = {},
  ) {
    this.seed = opts.seed ?? 1;
    const learners = opts.learners ?? [];
    const initial: ConfigState = {
      voters: ids.filter((i) => !learners.includes(i)),
      learners: learners.slice(),
      votersOutgoing: [],
    };
    for (const id of ids) this.nodes.set(id, new TestNode(id, this.configFor(id), initial, this.seed));
  }

  configFor(id: NodeId): RaftConfig {
    const o = this.opts;
    const c = defaultRaftConfig(id);
    return {
      ...c,
      electionTicks: o.electionTicks ?? 10,
      heartbeatTicks: o.heartbeatTicks ?? 1,
      preVote: o.preVote ?? false,
      checkQuorum: o.checkQuorum ?? false,
      inflightMessagesMax: o.inflightMessagesMax ?? c.inflightMessagesMax,
      appendBytesMax: o.appendBytesMax ?? c.appendBytesMax,
      uncommittedBytesMax: o.uncommittedBytesMax ?? c.uncommittedBytesMax,
      pendingReadsMax: o.pendingReadsMax ?? c.pendingReadsMax,
      ...(o.lazyCommit !== undefined ? { lazyCommit: o.lazyCommit } : {}),
      ...(o.unsafe ? { unsafe: o.unsafe } : {}),
    };
  }

  /** A node that is not in the bootstrap configuration (to be added by a membership change). */
  addNewNode(id: NodeId): TestNode {
    const n = new TestNode(id, this.configFor(id), { voters: [], learners: [], votersOutgoing: [] }, this.seed);
    this.nodes.set(id, n);
    return n;
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  core(id: NodeId): RaftCore {
    return this.node(id).core;
  }

  /** Processes pending Readies of every up node (queueing their messages). Returns true if any. */
  processReadies(): boolean {
    let any = false;
    for (const n of this.nodes.values()) {
      if (!n.up || n.holdReady) continue;
      while (n.handleReady(this.queue)) any = true;
    }
    return any;
  }

  private linkUp(m: Message): boolean {
    const from = this.nodes.get(m.from);
    const to = this.nodes.get(m.to);
    if (!from?.up || !to?.up) return false;
    if (this.cuts.has(`${m.from}>${m.to}`)) return false;
    if (this.dropIf?.(m)) return false;
    return true;
  }

  /** Delivers queued messages and processes Readies until quiet (bounded). */
  stabilize(roundsMax = 10_000): void {
    for (let i = 0; i < roundsMax; i++) {
      const any = this.processReadies();
      if (this.queue.length === 0) {
        if (!any) return;
        continue;
      }
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) this.deliver(m);
    }
    throw new Error('harness: no quiescence');
  }

  /** Loses a message in the network (the sending host still learns that a snapshot send failed). */
  drop(m: Message): void {
    if (m.type === 'snapshot' && this.nodes.get(m.from)?.up) this.node(m.from).core.reportSnapshot(m.to, false);
  }

  deliver(m: Message): void {
    const up = this.linkUp(m);
    if (up) {
      this.delivered.push(m);
      const outcome = this.node(m.to).core.step(m);
      // Every message here was sent by a core: a correct peer's traffic is never refused as invalid.
      if (!outcome.ok && outcome.reason === 'invalidMessage') {
        throw new Error(`harness: node ${m.to} refused a ${m.type} from ${m.from} as invalid: ${outcome.detail}`);
      }
    }
    // A host reports the outcome of every snapshot it tried to send.
    if (m.type === 'snapshot' && this.nodes.get(m.from)?.up) this.node(m.from).core.reportSnapshot(m.to, up);
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.node(id).core.tick();
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) if (n.up) n.core.tick();
      this.stabilize();
    }
  }

  /** Lets `id` time out (ticking only it) and campaign until it wins (bounded). */
  elect(id: NodeId): void {
    const core = this.core(id);
    for (let attempt = 0; attempt < 20; attempt++) {
      const before = core.status();
      const ticksMax = 2 * (this.opts.electionTicks ?? 10);
      for (let i = 0; i < ticksMax; i++) {
        core.tick();
        const now = core.status();
        if (now.role !== before.role || now.term !== before.term) break;
      }
      this.stabilize();
      if (core.status().role === 'leader') return;
    }
    throw new Error(`node ${id} did not become leader (role ${core.status().role})`);
  }

  leaders(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.up && n.core.status().role === 'leader').map((n) => n.id);
  }

  propose(id: NodeId, text: string): ReturnType<RaftCore['propose']> {
    const r = this.core(id).propose(enc(text));
    this.stabilize();
    return r;
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cuts.add(`${id}>${other}`);
      this.cuts.add(`${other}>${id}`);
    }
  }

  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(`${from}>${to}`);
  }

  cutCount(): number {
    return this.cuts.size;
  }

  heal(): void {
    this.cuts.clear();
  }

  crash(id: NodeId): void {
    this.node(id).up = false;
  }

  restart(id: NodeId): void {
    this.node(id).restart();
  }
}
