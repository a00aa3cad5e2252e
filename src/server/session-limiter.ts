/**
 * Rate limit of new client sessions (KV.OpenSession) per client address, on the node that receives the
 * call: a token bucket per address (the host part of grpc-js `call.getPeer()`, without the port, so new
 * connections do not get new buckets), refilled at `perSecond` tokens per second up to a burst of
 * BURST_FACTOR * perSecond. Past it the call is refused with RESOURCE_EXHAUSTED before anything is proposed,
 * so one client cannot register sessions fast enough to push everyone else's out of the state machine's
 * bounded session table (kv/state-machine.ts).
 *
 * Invariants:
 * - the table of buckets is bounded (bucketsMax): a bucket that has refilled completely is the same as no
 *   bucket and goes first (looking at the 16 least recently used); otherwise the least recently used goes (Map insertion order, a bucket is
 *   re-inserted on use);
 * - tokens never exceed the burst, never go below 0; time comes from the injected clock (ms), and a clock
 *   that goes back refills nothing.
 */
import { TesseraError, assert } from '../base';

export const BURST_FACTOR = 10;
export const SESSION_BUCKETS_MAX_DEFAULT = 4096;

interface Bucket {
  tokens: number;
  atMs: number;
}

export class SessionOpenLimiter {
  private readonly buckets = new Map<string, Bucket>();
  readonly burst: number;

  constructor(
    readonly perSecond: number,
    private readonly nowMs: () => number = Date.now,
    readonly bucketsMax = SESSION_BUCKETS_MAX_DEFAULT,
  ) {
    assert(Number.isFinite(perSecond) && perSecond > 0, () => `sessions per second must be > 0, got ${perSecond}`);
    assert(Number.isInteger(bucketsMax) && bucketsMax >= 1, () => `bucketsMax must be an integer >= 1, got ${bucketsMax}`);
    this.burst = perSecond * BURST_FACTOR;
  }

  /** Number of addresses with a bucket (for tests and diagnostics). */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token for `address`; false when its bucket is empty. */
  tryTake(address: string): boolean {
    const now = this.nowMs();
    const b = this.buckets.get(address);
    let tokens = this.burst;
    if (b !== undefined) {
      tokens = Math.min(this.burst, b.tokens + (Math.max(0, now - b.atMs) * this.perSecond) / 1000);
      this.buckets.delete(address);
    } else if (this.buckets.size >= this.bucketsMax) {
      this.makeRoom(now);
    }
    const allowed = tokens >= 1;
    this.buckets.set(address, { tokens: allowed ? tokens - 1 : tokens, atMs: b === undefined ? now : Math.max(now, b.atMs) });
    return allowed;
  }

  /** Throws RESOURCE_EXHAUSTED when `address` has no token left. */
  take(address: string): void {
    if (!this.tryTake(address)) {
      throw new TesseraError(
        'RESOURCE_EXHAUSTED',
        `too many new sessions from ${address} (at most ${this.perSecond} per second, bursts of ${this.burst}); retry later`,
        { limit: 'sessionsNewPerClientPerSecond' },
      );
    }
  }

  /** Drops a refilled bucket among the least recently used few, else the least recently used one. */
  private makeRoom(now: number): void {
    let looked = 0;
    for (const [address, b] of this.buckets) {
      if (++looked > 16) break;
      if (b.tokens + (Math.max(0, now - b.atMs) * this.perSecond) / 1000 >= this.burst) {
        this.buckets.delete(address);
        return;
      }
    }
    const oldest = this.buckets.keys().next().value as string;
    this.buckets.delete(oldest);
  }
}

/**
 * The client address of a grpc-js peer string without its port: 'ipv4:10.0.0.1:5000' -> '10.0.0.1',
 * 'ipv6:[::1]:5000' -> '::1', '10.0.0.1:5000' -> '10.0.0.1'; anything else is returned as it is.
 */
export function clientAddressOf(peer: string): string {
  let p = peer;
  if (p.startsWith('ipv4:') || p.startsWith('ipv6:')) p = p.slice(5);
  const v6 = /^\[([^\]]*)\](?::\d+)?$/.exec(p);
  if (v6) return v6[1] as string;
  const v4 = /^([^:]+):\d+$/.exec(p);
  if (v4) return v4[1] as string;
  return p;
}
