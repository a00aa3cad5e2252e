/**
 * The `hostile` nemesis: while the workload runs, a seeded sequence of attacks (catalogue.ts) at the
 * nodes' real client ports, one at a time, each after a short seeded gap, until the fault phase ends or
 * `attacksMax` attacks have run; the first round (every chosen attack once) is always completed, past the
 * fault phase if need be (bounded), while the workload still runs. Every attack is logged to nemesis.jsonl (kind `hostile`) with the node
 * it hit, the answers and what it saw.
 *
 * Before the first attack it writes a sentinel key; after the run, `verdict()` checks on every node that
 * the sentinel still has its value, that no planted key is readable, and that no call reached the
 * attacker's fake node. Crashes, leadership and the workload's history are judged by the usual checkers.
 *
 * Invariants: every attack undoes its own pauses and added members; stop() lets the current attack
 * finish (each is bounded) and skips the rest.
 */
import type { Random } from '../../src/base';
import type { NemesisLog } from '../nemesis/nemesis-log';
import {
  attackNames,
  describeResult,
  runAttack,
  type AttackContext,
  type AttackName,
  type AttackResult,
} from './catalogue';
import type { NodeDoor } from './cluster-view';
import { expectEverywhere, plantedVisible } from './checks';
import { put } from './client-abuse';
import { FakeNode } from './fake-node';
import { closeWire } from './wire';

export interface PlannedAttack {
  /** Quiet time before this attack starts (after the previous one finished), ms. */
  gapMs: number;
  attack: AttackName;
}

export interface AttackPlanOptions {
  attacks: readonly AttackName[];
  /** Upper bound of attacks in one run. */
  attacksMax: number;
  gapMs: readonly [number, number];
  /** Quiet time before the first attack (the workload warms up). */
  firstMs: number;
}

/** A seeded order: the chosen attacks shuffled, again and again, up to attacksMax. */
export function planAttacks(rng: Random, o: AttackPlanOptions): PlannedAttack[] {
  const out: PlannedAttack[] = [];
  if (o.attacks.length === 0) return out;
  while (out.length < o.attacksMax) {
    for (const attack of rng.shuffle([...o.attacks])) {
      if (out.length >= o.attacksMax) break;
      out.push({ gapMs: out.length === 0 ? o.firstMs : rng.int(o.gapMs[0], o.gapMs[1]), attack });
    }
  }
  return out;
}

export const defaultAttackPlan: Omit<AttackPlanOptions, 'attacks'> = {
  attacksMax: 3 * attackNames.length,
  gapMs: [200, 700],
  firstMs: 1500,
};

export const SENTINEL_KEY = 'hostile/sentinel';
export const SENTINEL_VALUE = 'written-before-the-attacks';

export interface HostileHooks {
  pause(id: number): void;
  resume(id: number): void;
  readd(leader: number, id: number): Promise<void>;
}

export interface HostileVerdict {
  valid: boolean;
  summary: string;
  detail: {
    attacks: AttackResult[];
    sentinelLost: string[];
    planted: string[];
    fakeNodeCalls: Record<string, number>;
    clusterIdLeaked: boolean;
    errors: string[];
  };
}

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class HostileNemesis {
  readonly results: AttackResult[] = [];
  readonly errors: string[] = [];
  private readonly fake = new FakeNode();
  private readonly plantedKeys: string[] = [];
  private stopped = false;
  private overtimeEnd = Infinity;
  private wake: (() => void) | null = null;
  private sentinelWritten = false;

  constructor(
    private readonly doors: readonly NodeDoor[],
    private readonly plan: readonly PlannedAttack[],
    private readonly rng: Random,
    private readonly hooks: HostileHooks,
    private readonly log: NemesisLog,
    private readonly electionMs = 1000,
    /** An insider's cluster id (AttackContext.clusterId); undefined: an outsider. */
    private readonly clusterId?: string,
  ) {}

  /** Starts the attacker's listener and writes the sentinel (through the leader, retried, bounded). */
  async prepare(leaderDoor: () => Promise<NodeDoor | null>, timeoutMs = 15_000): Promise<void> {
    await this.fake.start();
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const door = await leaderDoor();
      if (door && (await put(door, SENTINEL_KEY, SENTINEL_VALUE, null)).code === 'OK') {
        this.sentinelWritten = true;
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`could not write the sentinel key ${SENTINEL_KEY} within ${timeoutMs} ms`);
  }

  /**
   * Ends the schedule: no more gaps, and no attack after the first round (each chosen attack once), which
   * is finished first so that a slow machine still fires every attack; `overtimeMs` bounds that.
   */
  stop(overtimeMs = 60_000): void {
    this.stopped = true;
    this.overtimeEnd = Date.now() + overtimeMs;
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(t);
        self.wake = null;
        resolve();
      }
      this.wake = done;
    });
  }

  async run(): Promise<void> {
    const ctx: AttackContext = {
      doors: this.doors,
      rng: this.rng,
      fake: this.fake,
      plantedKeys: this.plantedKeys,
      pause: (id) => this.hooks.pause(id),
      resume: (id) => this.hooks.resume(id),
      readd: (leader, id) => this.hooks.readd(leader, id),
      electionMs: this.electionMs,
      clusterId: this.clusterId,
    };
    let n = 0;
    const firstRound = new Set(this.plan.map((p) => p.attack)).size;
    for (const step of this.plan) {
      await this.sleep(step.gapMs);
      if (this.stopped && (n >= firstRound || Date.now() > this.overtimeEnd)) break;
      n++;
      try {
        const r = await runAttack(step.attack, ctx, null, `${step.attack}-${n}`);
        this.results.push(r);
        this.log.write({
          type: 'instant',
          kind: 'hostile',
          description: describeResult(r),
          nodes: r.node === null ? [] : [r.node],
        });
      } catch (e) {
        this.errors.push(`${step.attack}: ${errText(e)}`);
        this.log.write({ type: 'error', kind: 'hostile', description: step.attack, error: errText(e) });
      }
    }
  }

  /** Stops the attacker's listener and closes its channels (idempotent). */
  async close(): Promise<void> {
    this.stop();
    await this.fake.stop();
    closeWire();
  }

  /** After recovery: the per-node checks. Also stops the attacker's listener. */
  async verdict(timeoutMs = 15_000): Promise<HostileVerdict> {
    const sentinelLost = this.sentinelWritten
      ? await expectEverywhere(this.doors, SENTINEL_KEY, SENTINEL_VALUE, timeoutMs)
      : ['the sentinel was never written'];
    const planted = await plantedVisible(this.doors, this.plantedKeys);
    const fakeNodeCalls = Object.fromEntries(this.fake.calls);
    await this.close();
    const calls = this.fake.clientCalls;
    const valid = sentinelLost.length === 0 && planted.length === 0 && calls === 0;
    const problems = [
      ...(sentinelLost.length ? [`sentinel not intact (${sentinelLost.join('; ')})`] : []),
      ...(planted.length ? [`planted keys readable: ${planted.join(', ')}`] : []),
      ...(calls ? [`${calls} client call(s) reached the attacker`] : []),
    ];
    return {
      valid,
      summary: valid
        ? `${this.results.length} attacks; sentinel intact on every node, nothing planted readable, no call reached the attacker`
        : `${this.results.length} attacks; ${problems.join('; ')}`,
      detail: {
        attacks: this.results,
        sentinelLost,
        planted,
        fakeNodeCalls,
        clusterIdLeaked: this.fake.clusterIdsSeen.size > 0,
        errors: this.errors,
      },
    };
  }
}
