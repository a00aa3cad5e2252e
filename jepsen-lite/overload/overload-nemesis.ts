/**
 * The `overload` nemesis: while the workload runs, the chosen overload patterns (catalogue.ts), one at a
 * time, each at the current leader after a quiet gap, each in a worker thread; the runner meanwhile
 * samples the leader's RSS, probes /healthz and polls Admin.Status (probes.ts). The first round (every
 * chosen pattern once) always completes, past --time if need be; more rounds run while --time lasts.
 * Before the workload starts, prepare() writes the big values the scans and the non-reader read.
 * verdicts() judges the records together with the workload's history (checks.ts).
 *
 * Invariants: every attack is bounded (its worker is terminated at its bound and the attack counted as
 * failed); probes are stopped before the next attack; stop() skips what has not started.
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { Client } from '../../src/client';
import type { HistoryEvent } from '../history';
import type { NemesisLog } from '../nemesis/nemesis-log';
import type { CheckerVerdict } from '../run/verdicts';
import type { AttackWorkerData } from './attack-worker';
import { bigKey, type AttackReport, type AttackTarget, type OverloadAttackName, type OverloadSizes } from './catalogue';
import { figures, figuresLine, judgeOverload, type AttackRecord } from './checks';
import { Probes, lateTicks, rssMiB } from './probes';
import { pool, sleep } from './tally';

export interface OverloadHooks {
  leader(): Promise<{ leader: number; term: number } | null>;
  pidOf(id: number): number | null;
  target(id: number): AttackTarget;
  /** Client endpoints for prepare() (the SDK finds the leader). */
  endpoints: string[];
  nowMs(): number;
}

export const HEALTHZ_BOUND_MS = 1000;
const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** How long an attack may take before its worker is terminated (every abuser has a smaller bound). */
export function attackBoundMs(s: OverloadSizes): number {
  return Math.max(s.nonReaderMs, s.idleHoldMs, s.metricsFloodMs) + s.callDeadlineMs + s.graceMs + 30_000;
}

function runWorker(data: AttackWorkerData, boundMs: number): Promise<{ report: AttackReport } | { error: string }> {
  return new Promise((resolve) => {
    const w = new Worker(join(__dirname, 'attack-worker.js'), { workerData: data });
    const timer = setTimeout(() => {
      void w.terminate();
      resolve({ error: `the attack did not finish within ${boundMs} ms` });
    }, boundMs);
    w.once('message', (m: { report: AttackReport } | { error: string }) => {
      clearTimeout(timer);
      void w.terminate();
      resolve(m);
    });
    w.once('error', (e) => {
      clearTimeout(timer);
      resolve({ error: errText(e) });
    });
  });
}

export class OverloadNemesis {
  readonly records: AttackRecord[] = [];
  private stopped = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly attacks: readonly OverloadAttackName[],
    private readonly sizes: OverloadSizes,
    readonly budgetMiB: number,
    private readonly hooks: OverloadHooks,
    private readonly log: NemesisLog,
    private readonly logLine: (line: string) => void,
  ) {}

  /** Writes bigKeys values of bigValueBytes (16 at a time, each put retried), bounded by 180 s + 100 ms a key. */
  async prepare(timeoutMs = 180_000 + 100 * this.sizes.bigKeys): Promise<void> {
    if (this.sizes.bigKeys === 0) return;
    const client = new Client({ endpoints: this.hooks.endpoints, deadlineMs: 10_000 });
    const end = Date.now() + timeoutMs;
    const value = Buffer.alloc(this.sizes.bigValueBytes, 0x62);
    let written = 0;
    let lastError = '';
    try {
      await pool(this.sizes.bigKeys, 16, async (i) => {
        while (Date.now() < end) {
          try {
            await client.put(bigKey(i), value);
            written++;
            return;
          } catch (e) {
            lastError = errText(e);
            await sleep(200);
          }
        }
      });
    } finally {
      await client.close();
    }
    if (written < this.sizes.bigKeys)
      throw new Error(
        `wrote ${written} of ${this.sizes.bigKeys} big values within ${timeoutMs} ms (last error: ${lastError || 'none'})`,
      );
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private quiet(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => done(), ms);
      const done = (): void => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
      this.wake = done;
    });
  }

  async run(): Promise<void> {
    for (let round = 0; round === 0 || !this.stopped; round++) {
      for (const attack of this.attacks) {
        if (round > 0 && this.stopped) return;
        // The first round always waits its quiet gap: the bystander needs a baseline before each attack.
        const quietFromMs = this.hooks.nowMs();
        if (round === 0) await sleep(this.sizes.quietMs);
        else await this.quiet(this.sizes.quietMs);
        this.records.push(await this.runOne(attack, quietFromMs));
      }
    }
  }

  private async findLeader(timeoutMs: number): Promise<{ leader: number; term: number } | null> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const l = await this.hooks.leader().catch(() => null);
      if (l) return l;
      await sleep(200);
    }
    return null;
  }

  private async runOne(attack: OverloadAttackName, quietFromMs: number): Promise<AttackRecord> {
    const l = await this.findLeader(15_000);
    const pid = l ? this.hooks.pidOf(l.leader) : null;
    const startMs = this.hooks.nowMs();
    if (!l || pid === null)
      return this.done({
        attack,
        node: null,
        startMs,
        endMs: startMs,
        quietFromMs,
        rssBeforeMiB: null,
        lateTicks: null,
        report: null,
        error: 'no leader',
        probes: null,
      });
    const target = this.hooks.target(l.leader);
    const probes = new Probes({
      pid,
      target,
      leader: () => this.hooks.leader(),
      sampleMs: 100,
      probeMs: 200,
      pollMs: 250,
      healthzTimeoutMs: HEALTHZ_BOUND_MS,
    });
    const rssBeforeMiB = rssMiB(pid);
    const lateBefore = await lateTicks(target);
    this.log.write({ type: 'start', kind: 'overload', description: attack, nodes: [l.leader] });
    probes.start(l);
    const out = await runWorker({ attack, target, sizes: this.sizes }, attackBoundMs(this.sizes));
    const endMs = this.hooks.nowMs();
    const after = await this.hooks.leader().catch(() => null);
    if (after) probes.see(after);
    const figures = await probes.stop();
    const lateAfter = await lateTicks(target);
    return this.done({
      attack,
      node: l.leader,
      startMs,
      endMs,
      quietFromMs,
      rssBeforeMiB,
      lateTicks: lateBefore === null || lateAfter === null ? null : lateAfter - lateBefore,
      report: 'report' in out ? out.report : null,
      error: 'error' in out ? out.error : null,
      probes: figures,
    });
  }

  private done(r: AttackRecord): AttackRecord {
    const line = `${figuresLine(figures(r, []), this.budgetMiB)}${r.report ? ` | ${r.report.notes.join('; ')}` : ''}`;
    this.logLine(`overload: ${line}`);
    this.log.write({ type: 'stop', kind: 'overload', description: line, nodes: r.node === null ? [] : [r.node] });
    return r;
  }

  verdicts(events: readonly HistoryEvent[]): CheckerVerdict[] {
    const vs = judgeOverload({
      records: this.records,
      events,
      budgetMiB: this.budgetMiB,
      bystanderP99BoundMs: this.sizes.bystanderP99BoundMs,
      healthzBoundMs: HEALTHZ_BOUND_MS,
    });
    for (const f of this.records.map((r) => figures(r, events)))
      this.logLine(`overload: ${figuresLine(f, this.budgetMiB)}`);
    return vs;
  }
}

/** The memory budget the nodes run with: their --memory-budget-mib if the run passes one, else 512. */
export function budgetFromNodeArgs(nodeArgs: readonly string[]): number {
  const i = nodeArgs.indexOf('--memory-budget-mib');
  const v = i >= 0 ? Number(nodeArgs[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : 512;
}
