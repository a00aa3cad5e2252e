/**
 * The per-client-address limit of new sessions (server/session-limiter.ts), alone and together with the
 * state machine: a flood of 110,000 OpenSession calls from one address does not push another client's
 * session out of the bounded session table, so that client's retry of an applied write is not applied twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { withFingerprint } from '../../../src/codec';
import type { Command, SessionTag } from '../../../src/codec';
import { StateMachine } from '../../../src/kv';
import { openSessionCommand } from '../../../src/server/requests';
import { BURST_FACTOR, SessionOpenLimiter, clientAddressOf } from '../../../src/server/session-limiter';
import { Log, Stores, b, put, whole } from '../kv/helpers';

const stores = new Stores();
afterEach(() => stores.cleanup());

describe('SessionOpenLimiter', () => {
  it('allows a burst of 10x the rate, then the rate; per address', () => {
    let now = 1_000_000;
    const l = new SessionOpenLimiter(5, () => now);
    expect(l.burst).toBe(5 * BURST_FACTOR);
    let ok = 0;
    for (let i = 0; i < 200; i++) if (l.tryTake('a')) ok++;
    expect(ok).toBe(50);
    expect(l.tryTake('b')).toBe(true); // another address has its own bucket
    now += 1000; // one second refills 5
    ok = 0;
    for (let i = 0; i < 20; i++) if (l.tryTake('a')) ok++;
    expect(ok).toBe(5);
    now -= 60_000; // a clock that goes back refills nothing
    expect(l.tryTake('a')).toBe(false);
    const e = (() => {
      try {
        l.take('a');
      } catch (err) {
        return err as TesseraError;
      }
      return null;
    })();
    expect(e?.code).toBe('RESOURCE_EXHAUSTED');
    expect(e?.details.limit).toBe('sessionsNewPerClientPerSecond');
  });

  it('keeps its table of buckets bounded, dropping refilled buckets first, an empty bucket only as the least recently used', () => {
    let now = 0;
    const l = new SessionOpenLimiter(1, () => now, 4);
    for (let i = 0; i < 10; i++) l.tryTake('attacker'); // empty
    for (let i = 0; i < 100; i++) {
      now += 10_000; // everyone else refills
      l.tryTake(`addr-${i}`);
      l.tryTake('attacker'); // used recently: never the least recently used
      expect(l.size).toBeLessThanOrEqual(4);
    }
    // the attacker's bucket was never dropped (it would have come back full)
    now += 0;
    let ok = 0;
    for (let i = 0; i < 10; i++) if (l.tryTake('attacker')) ok++;
    expect(ok).toBeLessThan(10);
  });

  it('takes the host of a grpc-js peer without the port; IPv4-mapped as IPv4; IPv6 by its /64', () => {
    expect(clientAddressOf('127.0.0.1:9')).toBe('127.0.0.1');
    expect(clientAddressOf('ipv4:10.1.2.3:50000')).toBe('10.1.2.3');
    expect(clientAddressOf('::ffff:10.1.2.3:50000')).toBe('10.1.2.3');
    expect(clientAddressOf('::1:50000')).toBe('0:0:0:0::/64');
    expect(clientAddressOf('ipv6:[::1]:50000')).toBe('0:0:0:0::/64');
    expect(clientAddressOf('2001:db8:0:7:1:2:3:4:443')).toBe('2001:db8:0:7::/64');
    expect(clientAddressOf('2001:db8:0:7::99:443')).toBe('2001:db8:0:7::/64');
    expect(clientAddressOf('2001:0db8:0000:0007:aaaa::1:1')).toBe('2001:db8:0:7::/64');
    expect(clientAddressOf('2001:db8:0:8::1:443')).not.toBe(clientAddressOf('2001:db8:0:7::1:443'));
    expect(clientAddressOf('unix:/tmp/sock')).toBe('unix:/tmp/sock');
  });
});

describe('a session-open flood through the limiter into the state machine', () => {
  it('110,000 new sessions from one address do not evict another client, whose retry of an applied write applies once', async () => {
    const sessionsMax = 100_000; // the default of --sessions-max
    let now = 1_700_000_000_000;
    const limiter = new SessionOpenLimiter(100, () => now); // the default of --sessions-new-per-client-per-second
    const { store } = await stores.make();
    const sm = await StateMachine.open(store, 1, whole, { sessionsMax });
    const log = new Log();
    const victimId = Buffer.alloc(16, 0x77);
    const victim: SessionTag = { clientId: victimId.toString('hex'), seq: 1 };
    const propose = async (c: Command) =>
      (await sm.apply([log.add({ ...c, atMs: Math.floor(now) } as Command)])).get(log.entries.length);

    // The victim opens its session (through the limiter, from its own address) and writes once.
    limiter.take('10.0.0.7');
    await propose(openSessionCommand({ clientId: victimId }));
    const write = withFingerprint(put('k', 'victim-1', victim));
    expect(await propose(write)).toEqual({ type: 'put' });
    await propose(put('k', 'someone-else', null));

    // The flood: 110,000 OpenSession calls from one address over 10 seconds.
    const attempts = 110_000;
    const durationMs = 10_000;
    let allowed = 0;
    let pending: Command[] = [];
    const flush = async () => {
      const entries = pending.map((c) => log.add({ ...c, atMs: Math.floor(now) } as Command));
      pending = [];
      if (entries.length > 0) await sm.apply(entries);
    };
    for (let i = 0; i < attempts; i++) {
      now += durationMs / attempts;
      if (!limiter.tryTake('10.0.0.66')) continue;
      allowed++;
      const id = Buffer.alloc(16);
      id.writeUInt32BE(i, 12);
      pending.push(openSessionCommand({ clientId: id }));
      if (pending.length >= 500) await flush();
    }
    await flush();
    expect(allowed).toBeLessThanOrEqual(limiter.burst + (100 * durationMs) / 1000 + 1);
    expect(allowed).toBeGreaterThan(1000);
    expect(sm.sessionCount).toBe(allowed + 1);
    expect(sm.sessionClientIds()).toContain(victim.clientId);

    // The victim's retry of its applied write (its reply was lost) returns the remembered result.
    expect(await propose(write)).toEqual({ type: 'put' });
    expect((await sm.get(b('k')))?.toString()).toBe('someone-else');
    // ...and the victim can still open a new session during the flood: its address has its own bucket.
    expect(limiter.tryTake('10.0.0.7')).toBe(true);
  }, 60_000);
});
