/**
 * `tessera bench`: closed-loop load through the SDK against a running cluster. N workers each keep one
 * request in flight for --duration-s seconds, first puts then gets over a key space of --keys keys,
 * and the command prints JSON with throughput and latency percentiles (p50, p99, p999) per operation.
 * Latency samples are kept in a bounded buffer (samplesMax); beyond it, reservoir sampling keeps the
 * percentiles unbiased.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '../../src/client';
import { EXIT_OK, UsageError, expectPositionals, intOption, json, makeClient, parse } from './args';
import { passwordFor } from './password';
import type { Io } from './args';

export const benchHelp = `Benchmark:
  bench [--ops put,get] [--concurrency 64] [--value-bytes 256] [--keys 10000] [--duration-s 10]
        [--stale] [--no-preload]
                                    closed-loop put and get load; prints JSON with ops/s and p50/p99/p999 ms`;

const SAMPLES_MAX = 1_000_000;

export interface OpStats {
  ops: number;
  errors: number;
  durationS: number;
  opsPerSec: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  firstError?: string;
}

class Recorder {
  private readonly samples = new Float64Array(SAMPLES_MAX);
  private seen = 0;
  ops = 0;
  errors = 0;
  sumMs = 0;
  maxMs = 0;
  firstError: string | undefined;

  record(ms: number): void {
    this.ops++;
    this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
    const i = this.seen++;
    if (i < SAMPLES_MAX) this.samples[i] = ms;
    else {
      const j = Math.floor(Math.random() * (i + 1));
      if (j < SAMPLES_MAX) this.samples[j] = ms;
    }
  }

  stats(durationS: number): OpStats {
    const n = Math.min(this.seen, SAMPLES_MAX);
    const sorted = this.samples.slice(0, n).sort();
    const q = (p: number): number => (n === 0 ? 0 : round(sorted[Math.min(n - 1, Math.floor(p * n))]!));
    const out: OpStats = {
      ops: this.ops,
      errors: this.errors,
      durationS: round(durationS),
      opsPerSec: round(this.ops / durationS),
      meanMs: this.ops === 0 ? 0 : round(this.sumMs / this.ops),
      p50Ms: q(0.5),
      p99Ms: q(0.99),
      p999Ms: q(0.999),
      maxMs: round(this.maxMs),
    };
    if (this.firstError !== undefined) out.firstError = this.firstError;
    return out;
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function keyOf(i: number): string {
  return `bench/${String(i).padStart(8, '0')}`;
}

async function runPhase(
  concurrency: number,
  durationMs: number,
  op: (i: number) => Promise<unknown>,
  keys: number,
): Promise<OpStats> {
  const rec = new Recorder();
  const start = performance.now();
  const end = start + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const k = Math.floor(Math.random() * keys);
      const t0 = performance.now();
      try {
        await op(k);
        rec.record(performance.now() - t0);
      } catch (e) {
        rec.errors++;
        rec.firstError ??= (e as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return rec.stats((performance.now() - start) / 1000);
}

async function preload(client: Client, keys: number, value: Buffer, concurrency: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys) await client.put(keyOf(next++), value);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys) }, worker));
}

export async function benchCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, {
    ops: { type: 'string' },
    concurrency: { type: 'string' },
    'value-bytes': { type: 'string' },
    keys: { type: 'string' },
    'duration-s': { type: 'string' },
    stale: { type: 'boolean' },
    'no-preload': { type: 'boolean' },
  });
  expectPositionals(p, 0, 0, 'tessera bench [options]');
  const ops = String(p.values.ops ?? 'put,get')
    .split(',')
    .map((s) => s.trim());
  for (const o of ops)
    if (o !== 'put' && o !== 'get') throw new UsageError(`--ops: unknown operation '${o}' (put, get)`);
  const concurrency = intOption(p.values, 'concurrency', 64, 1, 100_000);
  const valueBytes = intOption(p.values, 'value-bytes', 256, 0, 64 * 1024 * 1024);
  const keys = intOption(p.values, 'keys', 10_000, 1, 100_000_000);
  const durationS = intOption(p.values, 'duration-s', 10, 1, 24 * 3600);
  const stale = p.values.stale === true;
  const value = randomBytes(valueBytes);
  const client = makeClient(p.global, p.global.user === null ? null : await passwordFor(`user '${p.global.user}'`));
  const result: Record<string, unknown> = {
    config: {
      endpoints: p.global.endpoints,
      ops,
      concurrency,
      valueBytes,
      keys,
      durationS,
      getConsistency: stale ? 'stale' : 'linearizable',
    },
  };
  try {
    if (ops.includes('get') && !ops.includes('put') && p.values['no-preload'] !== true)
      await preload(client, keys, value, concurrency);
    if (ops.includes('put'))
      result.put = await runPhase(concurrency, durationS * 1000, (k) => client.put(keyOf(k), value), keys);
    if (ops.includes('get')) {
      const options = { consistency: stale ? ('stale' as const) : ('linearizable' as const) };
      result.get = await runPhase(concurrency, durationS * 1000, (k) => client.get(keyOf(k), options), keys);
    }
  } finally {
    await client.close();
  }
  io.out(json(result));
  return EXIT_OK;
}
