/**
 * What the runner measures while an attack runs, each on a timer and each bounded:
 * - the attacked node's RSS (VmRSS of /proc/<pid>/status) every sampleMs;
 * - /healthz on a fresh connection every probeMs, each with a timeout (the latency, or a failure);
 * - Admin.Status of every node every pollMs: the (leader, term) pairs seen.
 * stop() ends all three and returns the figures.
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { AttackTarget } from './catalogue';
import { httpGet } from './metrics-flood';

export interface ProbeFigures {
  rssPeakMiB: number;
  rssSamples: number;
  healthzMaxMs: number;
  healthzProbes: number;
  /** Probes not answered 200 within healthzTimeoutMs (with what happened). */
  healthzFailures: string[];
  /** Diagnostic: the harness's own event-loop delay (max, ms): the probes and the bystander run on it, so a
   * large one makes their figures pessimistic (a loaded machine, not only the node). */
  harnessLagMaxMs: number;
  /** Distinct (leader, term) pairs seen, in order. */
  leadership: { leader: number; term: number }[];
}

export function rssMiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** The node's own count of late Raft ticks (tessera_raft_tick_late_total), or null (no answer, no metric). */
export async function lateTicks(target: AttackTarget, timeoutMs = 3000): Promise<number | null> {
  const text = await httpText(target, '/metrics', timeoutMs);
  const m = text === null ? null : /^tessera_raft_tick_late_total(?:\{[^}]*\})? (\d+)/m.exec(text);
  return m ? Number(m[1]) : null;
}

function httpText(t: AttackTarget, path: string, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: t.httpHost, port: t.httpPort, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body : null));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

export interface ProbeOptions {
  pid: number;
  target: AttackTarget;
  leader: () => Promise<{ leader: number; term: number } | null>;
  sampleMs: number;
  probeMs: number;
  pollMs: number;
  healthzTimeoutMs: number;
}

export class Probes {
  private readonly f: ProbeFigures = {
    rssPeakMiB: 0,
    rssSamples: 0,
    healthzMaxMs: 0,
    healthzProbes: 0,
    healthzFailures: [],
    harnessLagMaxMs: 0,
    leadership: [],
  };
  private readonly lag = monitorEventLoopDelay({ resolution: 10 });
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly o: ProbeOptions) {}

  start(first: { leader: number; term: number }): void {
    this.f.leadership.push(first);
    this.lag.enable();
    this.sampleRss();
    this.timers.push(setInterval(() => this.sampleRss(), this.o.sampleMs));
    this.timers.push(setInterval(() => this.track(this.probeHealthz()), this.o.probeMs));
    this.timers.push(setInterval(() => this.track(this.pollLeader()), this.o.pollMs));
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private sampleRss(): void {
    const r = rssMiB(this.o.pid);
    if (r === null) return;
    this.f.rssSamples++;
    this.f.rssPeakMiB = Math.max(this.f.rssPeakMiB, r);
  }

  private async probeHealthz(): Promise<void> {
    const t0 = performance.now();
    const a = await httpGet(false, this.o.target, '/healthz', this.o.healthzTimeoutMs);
    if (this.stopped) return;
    const ms = performance.now() - t0;
    this.f.healthzProbes++;
    this.f.healthzMaxMs = Math.max(this.f.healthzMaxMs, ms);
    if (a.outcome !== 'ok') this.f.healthzFailures.push(`${a.code} after ${Math.round(ms)} ms`);
  }

  private async pollLeader(): Promise<void> {
    const l = await this.o.leader().catch(() => null);
    if (!l || this.stopped) return;
    this.see(l);
  }

  /** Records a (leader, term) pair if it differs from the last one seen. */
  see(l: { leader: number; term: number }): void {
    const last = this.f.leadership[this.f.leadership.length - 1];
    if (!last || last.leader !== l.leader || last.term !== l.term) this.f.leadership.push(l);
  }

  /** Stops the timers, waits (bounded by each probe's own timeout) for probes in flight, returns the figures. */
  async stop(): Promise<ProbeFigures> {
    for (const t of this.timers) clearInterval(t);
    await Promise.all([...this.inFlight]);
    this.sampleRss();
    this.stopped = true;
    this.lag.disable();
    const harnessLagMaxMs = Math.round(this.lag.max / 1e6);
    return { ...this.f, rssPeakMiB: Math.round(this.f.rssPeakMiB), harnessLagMaxMs };
  }
}
