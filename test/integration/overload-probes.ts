/**
 * Probes for the overload tests (issue 9 §4), on real node processes: the RSS of a process (now and its
 * peak, from /proc), and a bystander: a normal SDK client doing puts and gets while an abusive client
 * runs, recording each call's latency and failures. Every loop is bounded in time.
 */
import { readFileSync } from 'node:fs';
import type { Client } from '../../src/client';

/** VmRSS and VmHWM (peak RSS) of a process, in bytes (0 when unreadable: the process is gone). */
export function rssOf(pid: number): { rssBytes: number; peakBytes: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rssBytes: kb('VmRSS'), peakBytes: kb('VmHWM') };
  } catch {
    return { rssBytes: 0, peakBytes: 0 };
  }
}

export interface BystanderReport {
  calls: number;
  failures: string[];
  latenciesMs: number[];
  p99Ms: number;
  maxMs: number;
}

/** Puts then gets its own keys (one call at a time, with a pause) until `stop` resolves or durationMs. */
export async function runBystander(client: Client, durationMs: number, stop: Promise<void>): Promise<BystanderReport> {
  const latenciesMs: number[] = [];
  const failures: string[] = [];
  let stopped = false;
  void stop.then(() => (stopped = true));
  const until = Date.now() + durationMs;
  for (let i = 0; !stopped && Date.now() < until; i++) {
    const key = `bystander/${i % 50}`;
    const t0 = performance.now();
    try {
      if (i % 2 === 0) await client.put(key, `v${i}`, { deadlineMs: 5000 });
      else await client.get(`bystander/${(i - 1) % 50}`, { deadlineMs: 5000 });
    } catch (e) {
      failures.push(`${i}: ${(e as Error).message}`);
    }
    latenciesMs.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 20));
  }
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const p99Ms = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
  return { calls: latenciesMs.length, failures, latenciesMs, p99Ms, maxMs: sorted[sorted.length - 1] ?? 0 };
}

/** Samples the RSS of `pid` every intervalMs until stop() is called; returns the highest sample. */
export function sampleRss(pid: number, intervalMs = 100): { stop: () => number } {
  let maxBytes = 0;
  const timer = setInterval(() => {
    maxBytes = Math.max(maxBytes, rssOf(pid).rssBytes);
  }, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(maxBytes, rssOf(pid).rssBytes);
    },
  };
}

/** The value of an unlabelled metric on a node's /metrics (NaN when absent). */
export async function metricOf(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}
