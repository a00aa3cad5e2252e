/**
 * A synthetic register history shaped like a jepsen-lite run, for the benchmark and tests: `clients`
 * clients doing get (50%), put (30%) and cas (20%) on `keys` random keys over `seconds`, with per-op
 * latencies of 0.3-5.3 ms and 1% stalls of up to 1 s; writes time out (info) at `infoRate` and then take
 * effect inside their interval, after their info line, or never. Linearizable by construction: every op
 * takes effect at a random instant inside its interval and results come from applying them in that
 * order (a failed cas reports mismatch with `current`). `stale` appends one stale read at the end.
 * Deterministic for a seed.
 */
import { Random } from '../../src/base';
import type { HistoryEvent, Scalar } from '../history';

export interface SyntheticOptions {
  clients: number;
  seconds: number;
  ops: number;
  keys: number;
  infoRate: number;
  seed: number;
  stale: boolean;
}

interface SimOp {
  process: number;
  f: 'get' | 'put' | 'cas';
  key: string;
  arg: Scalar | [Scalar, Scalar];
  start: number;
  end: number;
  /** Instant the op takes effect; Infinity = never. */
  at: number;
  info: boolean;
  result?: { type: 'ok' | 'fail'; value: Scalar | [Scalar, Scalar]; current?: Scalar };
}

export function syntheticRegisterHistory(args: SyntheticOptions): HistoryEvent[] {
  const rng = new Random(args.seed);
  const durationNs = args.seconds * 1e9;
  const perClient = Math.ceil(args.ops / args.clients);
  const gapNs = durationNs / perClient;
  const ops: SimOp[] = [];
  let nextValue = 1;
  for (let c = 0; c < args.clients; c++) {
    let process = c;
    let t = rng.float() * gapNs;
    for (let i = 0; i < perClient; i++) {
      const stall = rng.chance(0.01);
      const latency = stall ? 50e6 + rng.float() * 950e6 : 0.3e6 + rng.float() * 5e6;
      const key = `k${rng.int(0, args.keys - 1)}`;
      const roll = rng.float();
      const f = roll < 0.5 ? 'get' : roll < 0.8 ? 'put' : 'cas';
      const arg: SimOp['arg'] =
        f === 'get'
          ? null
          : f === 'put'
            ? nextValue++
            : [rng.int(0, 3) === 0 ? null : rng.int(1, Math.max(1, nextValue - 1)), nextValue++];
      const info = f !== 'get' && rng.chance(args.infoRate);
      const start = t;
      const end = t + latency;
      // Info ops take effect inside their interval, after the info line, or never.
      const r = rng.float();
      const at = !info
        ? start + rng.float() * latency
        : r < 0.4
          ? start + rng.float() * latency
          : r < 0.7
            ? end + rng.float() * 1e9
            : Infinity;
      ops.push({ process, f, key, arg, start, end, at, info });
      if (info) process += args.clients; // Jepsen never reuses a process after a timeout
      t = end + rng.float() * Math.max(0, 2 * gapNs - latency);
    }
  }
  // Apply effects in linearization order to compute results.
  const state = new Map<string, Scalar>();
  for (const op of [...ops].filter((o) => o.at !== Infinity).sort((x, y) => x.at - y.at)) {
    const cur = state.get(op.key) ?? null;
    if (op.f === 'get') op.result = { type: 'ok', value: cur };
    else if (op.f === 'put') {
      state.set(op.key, op.arg as Scalar);
      op.result = { type: 'ok', value: op.arg };
    } else {
      const [e, n] = op.arg as [Scalar, Scalar];
      if (cur === e) {
        state.set(op.key, n);
        op.result = { type: 'ok', value: op.arg };
      } else op.result = { type: 'fail', value: op.arg, current: cur };
    }
  }
  const timed: Array<[number, HistoryEvent]> = [];
  for (const op of ops) {
    const invokeValue = op.f === 'get' ? null : op.arg;
    timed.push([op.start, { process: op.process, type: 'invoke', f: op.f, key: op.key, value: invokeValue }]);
    if (op.info)
      timed.push([
        op.end,
        { process: op.process, type: 'info', f: op.f, key: op.key, value: invokeValue, error: 'timed-out' },
      ]);
    else {
      const r = op.result!;
      const e: HistoryEvent = { process: op.process, type: r.type, f: op.f, key: op.key, value: r.value };
      if (r.type === 'fail') {
        e.error = 'mismatch';
        e.current = r.current ?? null;
      }
      timed.push([op.end, e]);
    }
  }
  timed.sort((x, y) => x[0] - y[0]);
  const events = timed.map(([t, e]) => ({ ...e, time: Math.round(t) }));
  if (args.stale) {
    // A read, after everything, of the first value ever written to a key that was overwritten since.
    const firstPut = ops.find(
      (o) =>
        o.f === 'put' && !o.info && ops.some((p) => p.key === o.key && p.f === 'put' && p.start > o.end && !p.info),
    )!;
    const t = events[events.length - 1]!.time + 1;
    events.push({ process: 9999, type: 'invoke', f: 'get', key: firstPut.key, value: null, time: t });
    events.push({ process: 9999, type: 'ok', f: 'get', key: firstPut.key, value: firstPut.arg as Scalar, time: t + 1 });
  }
  return events;
}
