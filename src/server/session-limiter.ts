/**
 * Rate limit of new client sessions (KV.OpenSession) per client address, on the node that receives the
 * call: a token bucket per address (clientAddressOf(call.getPeer()): the host without the port, so new
 * connections do not get new buckets; an IPv6 client by its /64), refilled at `perSecond` tokens per second up to a burst of
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
    assert(
      Number.isInteger(bucketsMax) && bucketsMax >= 1,
      () => `bucketsMax must be an integer >= 1, got ${bucketsMax}`,
    );
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
    this.buckets.set(address, {
      tokens: allowed ? tokens - 1 : tokens,
      atMs: b === undefined ? now : Math.max(now, b.atMs),
    });
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
 * The client address (the bucket's key) of a grpc-js peer string, without its port. grpc-js gives
 * `${remoteAddress}:${remotePort}` with IPv6 addresses unbracketed ('::1:5000'); the older 'ipv4:' / 'ipv6:'
 * prefixed and bracketed forms are accepted too. An IPv4-mapped IPv6 address counts as its IPv4 address, and
 * an IPv6 address as its /64 (one host usually holds a whole /64, so per-address buckets would not bind it).
 */
export function clientAddressOf(peer: string): string {
  let p = peer;
  if (p.startsWith('ipv4:') || p.startsWith('ipv6:')) p = p.slice(5);
  const bracketed = /^\[([^\]]*)\](?::\d+)?$/.exec(p);
  if (bracketed) {
    p = bracketed[1] as string;
  } else {
    const i = p.lastIndexOf(':');
    if (i > 0 && /^\d+$/.test(p.slice(i + 1)) && /[.:]/.test(p.slice(0, i))) p = p.slice(0, i);
  }
  if (!p.includes(':')) return p;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(p);
  if (mapped) return mapped[1] as string;
  const groups = ipv6Groups(p);
  return groups === null ? p : `${groups.slice(0, 4).join(':')}::/64`;
}

/** The 8 hex groups of an IPv6 address (lower case, no leading zeros), or null if it is not one. */
function ipv6Groups(addr: string): string[] | null {
  const halves = addr.toLowerCase().split('::');
  if (halves.length > 2) return null;
  const part = (h: string | undefined): string[] => (h === undefined || h === '' ? [] : h.split(':'));
  const head = part(halves[0]);
  const tail = part(halves[1]);
  const last = tail.length > 0 ? tail : head;
  if (last.length > 0 && (last[last.length - 1] as string).includes('.')) last.splice(last.length - 1, 1, '0', '0'); // embedded IPv4
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array.from({ length: halves.length === 2 ? missing : 0 }, () => '0'), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => g.replace(/^0+(?=.)/, ''));
}
