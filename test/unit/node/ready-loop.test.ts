/**
 * The ready loop (src/node/ready-loop.ts) against a scripted core and a recording I/O: the order of its
 * effects, group commit, the deferred commit-only hard state, steps and early sends while a persist is in
 * flight, staged snapshots (install or discard), failures, and both drivers (loop-driver.ts).
 */
import { describe, expect, it } from 'vitest';
import type { Scheduler } from '../../../src/base';
import {
  driveNow,
  driveWithPromises,
  type LoopDriver,
  type LoopWait,
  type Resumable,
} from '../../../src/node/loop-driver';
import { ReadyLoop, type LoopGroup, type PersistWrite, type ReadyLoopIo } from '../../../src/node/ready-loop';
import type { HardState, Message, RawNode, Ready, Snapshot } from '../../../src/raft';

function emptyReady(over: Partial<Ready> = {}): Ready {
  return {
    hardState: null,
    entries: [],
    snapshot: null,
    messagesNow: [],
    messagesAfterPersist: [],
    committedEntries: [],
    readStates: [],
    readsFailed: [],
    softState: null,
    ...over,
  };
}

const msg = (type: 'append' | 'appendResp', to: number): Message =>
  ({ type, from: 1, to, term: 1 }) as unknown as Message;
const entry = (index: number) => ({ kind: 'normal' as const, index, term: 1, data: new Uint8Array() });

/** A core that hands out scripted Readys and queued messagesNow. */
class ScriptedCore {
  readies: Ready[] = [];
  now: Message[] = [];
  advanced: Ready[] = [];
  hasReady(): boolean {
    return this.readies.length > 0;
  }
  ready(): Ready {
    return this.readies.shift()!;
  }
  advance(rd: Ready): void {
    this.advanced.push(rd);
  }
  takeMessagesNow(): Message[] {
    const m = this.now;
    this.now = [];
    return m;
  }
}

class Gate implements Resumable {
  settled = false;
  private fns: (() => void)[] = [];
  whenSettled(fn: () => void): void {
    if (this.settled) fn();
    else this.fns.push(fn);
  }
  open(): void {
    this.settled = true;
    for (const fn of this.fns.splice(0)) fn();
  }
}

class TestGroup implements LoopGroup {
  syncedHardState: HardState = { term: 1, vote: 1, commit: 0 };
  deferredHardState: HardState | null = null;
  staging: LoopGroup['staging'] = null;
  readonly scripted = new ScriptedCore();
  constructor(readonly id: number) {}
  get core(): RawNode {
    return this.scripted as unknown as RawNode;
  }
}

interface Harness {
  log: string[];
  writes: PersistWrite[][];
  loop: ReadyLoop<TestGroup>;
  groups: TestGroup[];
  runSoon(): void;
  persistGate: Gate | null;
  failures: unknown[];
}

function harness(driver: LoopDriver, groupCount = 1): Harness {
  const queue: (() => void)[] = [];
  const scheduler: Scheduler = {
    setTimeout: () => ({ cancel: () => undefined }),
    setInterval: () => ({ cancel: () => undefined }),
    soon: (fn) => queue.push(fn),
  };
  const groups = Array.from({ length: groupCount }, (_, i) => new TestGroup(i + 1));
  const h: Harness = {
    log: [],
    writes: [],
    groups,
    persistGate: null,
    failures: [],
    runSoon: () => {
      while (queue.length > 0) queue.shift()!();
    },
    loop: null as unknown as ReadyLoop<TestGroup>,
  };
  const io: ReadyLoopIo<TestGroup> = {
    groups: () => groups,
    feed: (g) => h.log.push(`feed ${g.id}`),
    send: (g, messages, now) => {
      for (const m of messages) h.log.push(`send ${g.id} ${m.type}${now ? ' now' : ''}`);
    },
    flush: () => h.log.push('flush'),
    yieldToIo: (phase, count) => (h.log.push(`yield ${phase} ${count}`), undefined),
    persist: (writes): LoopWait => {
      h.log.push(`persist ${writes.map((w) => w.groupId).join(',')}`);
      h.writes.push(writes);
      return h.persistGate ?? undefined;
    },
    installSnapshot: (g, id) => (h.log.push(`install ${g.id} ${id}`), undefined),
    discardStaged: (g, id) => h.log.push(`discard ${g.id} ${id}`),
    observe: (g) => h.log.push(`observe ${g.id}`),
    apply: (g, entries) => (h.log.push(`apply ${g.id} ${entries.map((e) => e.index).join(',')}`), undefined),
    advanced: (g) => h.log.push(`advanced ${g.id}`),
    compact: (g) => (h.log.push(`compact ${g.id}`), undefined),
    fail: (e) => h.failures.push(e),
  };
  h.loop = new ReadyLoop(io, scheduler, driver);
  return h;
}

const oneReady = (): Ready =>
  emptyReady({
    hardState: { term: 1, vote: 1, commit: 1 },
    entries: [entry(2)],
    messagesNow: [msg('append', 2)],
    messagesAfterPersist: [msg('appendResp', 3)],
    committedEntries: [entry(1)],
  });

describe('ready loop', () => {
  it('sends messagesNow, persists, sends acks, observes, applies, advances, compacts: in that order', () => {
    const h = harness(driveNow);
    h.groups[0]!.scripted.readies.push(oneReady());
    h.loop.schedule();
    h.runSoon();
    expect(h.log).toEqual([
      'feed 1',
      'send 1 append now',
      'flush',
      'yield now 1',
      'persist 1',
      'send 1 appendResp',
      'flush',
      'yield afterPersist 1',
      'observe 1',
      'apply 1 1',
      'advanced 1',
      'compact 1',
      'feed 1',
    ]);
    expect(h.groups[0]!.scripted.advanced).toHaveLength(1);
  });

  it('persists the Readys of all groups in one write (group commit)', () => {
    const h = harness(driveNow, 3);
    for (const g of h.groups) g.scripted.readies.push(oneReady());
    h.loop.schedule();
    h.runSoon();
    expect(h.writes).toHaveLength(1);
    expect(h.writes[0]!.map((w) => w.groupId)).toEqual([1, 2, 3]);
    for (const g of h.groups) expect(g.scripted.advanced).toHaveLength(1);
  });

  it('a commit-only hard state is not persisted on its own: it rides on the next write', () => {
    const h = harness(driveNow);
    const core = h.groups[0]!.scripted;
    core.readies.push(emptyReady({ hardState: { term: 1, vote: 1, commit: 5 } }));
    h.loop.schedule();
    h.runSoon();
    expect(h.writes).toHaveLength(0);
    core.readies.push(emptyReady({ entries: [entry(6)] }));
    h.loop.schedule();
    h.runSoon();
    expect(h.writes).toHaveLength(1);
    expect(h.writes[0]![0]!.hardState).toEqual({ term: 1, vote: 1, commit: 5 });
  });

  it('while a persist is in flight, a schedule feeds the cores and sends takeMessagesNow at once; the next Ready waits', () => {
    const h = harness(driveNow);
    const core = h.groups[0]!.scripted;
    const gate = new Gate();
    h.persistGate = gate;
    core.readies.push(oneReady());
    h.loop.schedule();
    h.runSoon();
    expect(h.loop.isRunning).toBe(true);
    expect(core.advanced).toHaveLength(0);
    // A step arrives meanwhile: the core queues an append and has a new Ready.
    core.now = [msg('append', 3)];
    core.readies.push(emptyReady({ entries: [entry(3)] }));
    h.log.length = 0;
    h.loop.schedule();
    h.runSoon();
    expect(h.log).toEqual(['feed 1', 'send 1 append now', 'flush']);
    h.persistGate = null;
    gate.open();
    expect(core.advanced).toHaveLength(2);
    expect(h.writes).toHaveLength(2);
    expect(h.loop.isRunning).toBe(false);
  });

  it('installs a staged snapshot the core hands out (marker in the same write), discards one it did not take', () => {
    const h = harness(driveNow);
    const g = h.groups[0]!;
    const meta = { index: 10, term: 2, config: { voters: [1], learners: [], votersOutgoing: [] } };
    const snap = (id: string): Snapshot => ({ meta, data: Buffer.from(id, 'utf8') });
    g.staging = { id: 's1', meta, stepped: true };
    g.scripted.readies.push(emptyReady({ snapshot: snap('s1'), committedEntries: [] }));
    h.loop.schedule();
    h.runSoon();
    expect(h.writes[0]![0]!.installStagingId).toBe('s1');
    expect(h.log).toContain('install 1 s1');
    expect(h.log.indexOf('install 1 s1')).toBeLessThan(h.log.indexOf('observe 1'));
    expect(g.staging).toBeNull();
    expect(h.log).not.toContain('compact 1'); // not after a snapshot install

    h.log.length = 0;
    g.staging = { id: 's2', meta, stepped: true };
    g.scripted.readies.push(emptyReady({ entries: [entry(11)] }));
    h.loop.schedule();
    h.runSoon();
    expect(h.log).toContain('discard 1 s2');
    expect(g.staging).toBeNull();
    // Stepped but no Ready at all: discarded too.
    h.log.length = 0;
    g.staging = { id: 's3', meta, stepped: true };
    h.loop.schedule();
    h.runSoon();
    expect(h.log).toContain('discard 1 s3');
  });

  it('a snapshot handed out that was never staged is an invariant failure, reported through io.fail', () => {
    const h = harness(driveNow);
    const meta = { index: 10, term: 2, config: { voters: [1], learners: [], votersOutgoing: [] } };
    h.groups[0]!.scripted.readies.push(emptyReady({ snapshot: { meta, data: Buffer.from('x') } }));
    h.loop.schedule();
    h.runSoon();
    expect(h.failures).toHaveLength(1);
    expect(String(h.failures[0])).toMatch(/not staged/);
    expect(h.loop.isRunning).toBe(false);
  });

  it('with promises: the same effects in the same order; a rejected persist is fatal', async () => {
    const a = harness(driveNow);
    const b = harness(driveWithPromises);
    for (const h of [a, b]) h.groups[0]!.scripted.readies.push(oneReady(), oneReady());
    for (const h of [a, b]) {
      h.loop.schedule();
      h.runSoon();
    }
    await b.loop.whenIdle();
    expect(b.log).toEqual(a.log);

    const c = harness(driveWithPromises);
    c.groups[0]!.scripted.readies.push(oneReady());
    c.persistGate = Promise.reject(new Error('disk full')) as unknown as Gate;
    c.loop.schedule();
    c.runSoon();
    await c.loop.whenIdle();
    expect(String(c.failures[0])).toMatch(/disk full/);
    expect(c.groups[0]!.scripted.advanced).toHaveLength(0);
  });
});
