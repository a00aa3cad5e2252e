/**
 * Issue 9, section 2: a snapshot stepped between ready() and advance() of a Ready that holds a config
 * entry must not be undone by that advance() (it used to re-apply the entry's older, absolute config, and
 * the host's next compaction point recorded it too). The configuration only moves forward, whatever the
 * order of step, ready and advance.
 */
import { describe, expect, it } from 'vitest';
import { Random } from '../../../src/base';
import { RaftCore, defaultRaftConfig } from '../../../src/raft';
import type { ConfigState, Entry, RaftConfig } from '../../../src/raft';

const cfg = (voters: number[], learners: number[] = []): ConfigState => ({ voters, learners, votersOutgoing: [] });
const OLD = cfg([1, 2, 3]);
const WITH_LEARNER = cfg([1, 2, 3], [4]);
/** The snapshot's configuration: later changes promoted 4 and removed 3. */
const NEWER = cfg([1, 2, 4]);

function follower(unsafe?: RaftConfig['unsafe']): RaftCore {
  const config: RaftConfig = { ...defaultRaftConfig(2), unsafe };
  return new RaftCore(
    config,
    { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [], initialConfig: OLD, applied: 0 },
    new Random(7),
  );
}

/** Leader 1 (term 1) replicates [empty@1, addLearner 4 @2] and commits both: the next Ready holds the config entry. */
function readyWithConfigEntry(core: RaftCore) {
  const entries: Entry[] = [
    { kind: 'empty', term: 1, index: 1 },
    { kind: 'config', term: 1, index: 2, change: { type: 'addLearner', node: 4 }, config: WITH_LEARNER },
  ];
  expect(
    core.step({ type: 'append', from: 1, to: 2, term: 1, prevLogIndex: 0, prevLogTerm: 0, entries, commit: 2 }),
  ).toEqual({ ok: true });
  const rd = core.ready();
  expect(rd.committedEntries.map((e) => e.kind)).toEqual(['empty', 'config']);
  return rd;
}

function stepSnapshot(core: RaftCore): void {
  const snapshot = { meta: { index: 10, term: 1, config: NEWER }, data: new Uint8Array() };
  expect(core.step({ type: 'snapshot', from: 1, to: 2, term: 1, snapshot })).toEqual({ ok: true });
}

describe('config never regresses', () => {
  it('a snapshot stepped between ready() and advance() of a Ready with a config entry keeps its newer config', () => {
    const core = follower();
    const rd = readyWithConfigEntry(core);
    stepSnapshot(core);
    expect(core.status().config).toEqual(NEWER);
    core.advance(rd);
    expect(core.status().config).toEqual(NEWER);
    // The snapshot's Ready, then a compaction point: both see the snapshot's configuration.
    const snapRd = core.ready();
    expect(snapRd.snapshot?.meta.index).toBe(10);
    core.advance(snapRd);
    expect(core.status()).toMatchObject({ applied: 10, commit: 10, config: NEWER });
    core.compact(10);
    expect(core.status().config).toEqual(NEWER);
  });

  it('config entries after the snapshot still apply', () => {
    const core = follower();
    const rd = readyWithConfigEntry(core);
    stepSnapshot(core);
    core.advance(rd);
    core.advance(core.ready());
    const next: Entry = {
      kind: 'config',
      term: 1,
      index: 11,
      change: { type: 'addLearner', node: 5 },
      config: cfg([1, 2, 4], [5]),
    };
    core.step({
      type: 'append',
      from: 1,
      to: 2,
      term: 1,
      prevLogIndex: 10,
      prevLogTerm: 1,
      entries: [next],
      commit: 11,
    });
    core.advance(core.ready());
    expect(core.status().config).toEqual(cfg([1, 2, 4], [5]));
  });

  it('with unsafe.regressConfigOnAdvance the advance() undoes the snapshot config (the bug the switch keeps for the simulator)', () => {
    const core = follower({ regressConfigOnAdvance: true });
    const rd = readyWithConfigEntry(core);
    stepSnapshot(core);
    core.advance(rd);
    expect(core.status().config).toEqual(WITH_LEARNER);
  });
});
