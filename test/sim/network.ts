/**
 * The simulated network: messages in flight, bucketed by delivery tick. Per message: drop with
 * probability dropRate, duplicate with dupRate, delay uniformly in [delayMinTicks, delayMaxTicks]
 * (so messages reorder), plus partitions (a set of blocked directed links, checked at send and at
 * delivery) and clogged links (extra delay until a tick). Messages are deep-copied on send, as a real
 * transport would serialize them, so cores never share objects.
 * Invariant: the number of messages in flight is bounded (inFlightMax); beyond it new ones are dropped.
 */
import type { Random } from '../../src/base';
import type { Message } from '../../src/raft';

export interface NetworkParams {
  dropRate: number;
  dupRate: number;
  delayMinTicks: number;
  delayMaxTicks: number;
}

export type SendVerdict = 'queued' | 'dropped' | 'blocked';

const inFlightMax = 20_000;

export class SimNetwork {
  private readonly buckets = new Map<number, Message[]>();
  private inFlight = 0;
  private readonly blocked = new Set<number>();
  /** link key -> tick until which the link is clogged; extra delay while clogged. */
  private readonly clogged = new Map<number, { untilTick: number; extraTicks: number }>();
  sent = 0;
  delivered = 0;
  dropped = 0;

  constructor(
    private readonly random: Random,
    public params: NetworkParams,
  ) {}

  static linkKey(from: number, to: number): number {
    return from * 65536 + to;
  }

  /** `group`: the message's group (splits); SIM_GROUP (1) is left off the wire. */
  send(message: Message, now: number, group = 1): SendVerdict {
    this.sent++;
    const key = SimNetwork.linkKey(message.from, message.to);
    if (this.blocked.has(key)) {
      this.dropped++;
      return 'blocked';
    }
    if (this.params.dropRate > 0 && this.random.chance(this.params.dropRate)) {
      this.dropped++;
      return 'dropped';
    }
    const copies = this.params.dupRate > 0 && this.random.chance(this.params.dupRate) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      if (this.inFlight >= inFlightMax) {
        this.dropped++;
        return 'dropped';
      }
      let at = now + this.random.int(this.params.delayMinTicks, this.params.delayMaxTicks);
      const clog = this.clogged.get(key);
      if (clog && clog.untilTick > now) at += clog.extraTicks;
      const copy: Message & { group?: number } = copyMessage(message);
      if (group !== 1) copy.group = group;
      const bucket = this.buckets.get(at);
      if (bucket) bucket.push(copy);
      else this.buckets.set(at, [copy]);
      this.inFlight++;
    }
    return 'queued';
  }

  /** Messages due at `now`, shuffled; messages on links blocked meanwhile are dropped (reported via onBlocked). */
  takeDue(now: number, onBlocked: (m: Message & { group?: number }) => void): (Message & { group?: number })[] {
    const bucket = this.buckets.get(now);
    if (!bucket) return [];
    this.buckets.delete(now);
    this.inFlight -= bucket.length;
    this.random.shuffle(bucket);
    const out: Message[] = [];
    for (const m of bucket) {
      if (this.blocked.has(SimNetwork.linkKey(m.from, m.to))) {
        this.dropped++;
        onBlocked(m);
      } else out.push(m);
    }
    this.delivered += out.length;
    return out;
  }

  block(from: number, to: number): void {
    this.blocked.add(SimNetwork.linkKey(from, to));
  }

  isBlocked(from: number, to: number): boolean {
    return this.blocked.has(SimNetwork.linkKey(from, to));
  }

  /** Blocks every link between the two sides, both directions. */
  partition(sideA: number[], sideB: number[]): void {
    for (const a of sideA) {
      for (const b of sideB) {
        this.block(a, b);
        this.block(b, a);
      }
    }
  }

  clog(from: number, to: number, untilTick: number, extraTicks: number): void {
    this.clogged.set(SimNetwork.linkKey(from, to), { untilTick, extraTicks });
  }

  healPartitions(): void {
    this.blocked.clear();
  }

  healAll(): void {
    this.blocked.clear();
    this.clogged.clear();
  }

  blockedLinks(): number {
    return this.blocked.size;
  }

  pending(): number {
    return this.inFlight;
  }
}

/** A copy of a message sharing only immutable byte arrays (much cheaper than structuredClone). */
export function copyMessage(m: Message): Message {
  switch (m.type) {
    case 'append':
      return {
        ...m,
        entries: m.entries.map((e) => (e.kind === 'config' ? { ...e, change: { ...e.change } } : { ...e })),
      };
    case 'snapshot': {
      const c = m.snapshot.meta.config;
      const config = { voters: [...c.voters], learners: [...c.learners], votersOutgoing: [...c.votersOutgoing] };
      return { ...m, snapshot: { meta: { ...m.snapshot.meta, config }, data: m.snapshot.data } };
    }
    default:
      return { ...m };
  }
}
