/**
 * Compact tuple forms of the Raft core's data types (entries, snapshot meta, configurations), shared by
 * the stored records (raft-records.ts) and the wire format of peer messages (raft-message.ts).
 * The to* functions throw ShapeError on malformed input.
 */
import type { ConfigState, Entry, HardState, MembershipChange, SnapshotMeta } from '../raft';
import { arr, bytes, fail, uint, uintList } from './shape';

const ENTRY_NORMAL = 0;
const ENTRY_EMPTY = 1;
const ENTRY_CONFIG = 2;
const CHANGE_TYPES = ['addVoter', 'addLearner', 'removeNode'] as const;

export function configTuple(c: ConfigState): unknown[] {
  return [c.voters, c.learners, c.votersOutgoing];
}

export function toConfig(v: unknown): ConfigState {
  const t = arr(v, 'config');
  return { voters: uintList(t[0], 'voters'), learners: uintList(t[1], 'learners'), votersOutgoing: uintList(t[2], 'votersOutgoing') };
}

/** normal: [0, term, index, data]; empty: [1, term, index]; config: [2, term, index, changeType, node, context|null, config|null] */
export function entryTuple(e: Entry): unknown[] {
  switch (e.kind) {
    case 'normal':
      return [ENTRY_NORMAL, e.term, e.index, e.data];
    case 'empty':
      return [ENTRY_EMPTY, e.term, e.index];
    case 'config':
      return [
        ENTRY_CONFIG,
        e.term,
        e.index,
        CHANGE_TYPES.indexOf(e.change.type),
        e.change.node,
        e.change.context ?? null,
        e.config === undefined ? null : configTuple(e.config),
      ];
  }
}

export function toEntry(v: unknown): Entry {
  const t = arr(v, 'entry');
  const term = uint(t[1], 'entry term');
  const index = uint(t[2], 'entry index');
  switch (t[0]) {
    case ENTRY_NORMAL:
      return { kind: 'normal', term, index, data: bytes(t[3], 'entry data') };
    case ENTRY_EMPTY:
      return { kind: 'empty', term, index };
    case ENTRY_CONFIG: {
      const type = CHANGE_TYPES[uint(t[3], 'change type')];
      if (type === undefined) fail(`unknown membership change type ${String(t[3])}`);
      const change: MembershipChange = { type, node: uint(t[4], 'change node') };
      if (t[5] !== null) change.context = bytes(t[5], 'change context');
      const entry: Entry = { kind: 'config', term, index, change };
      if (t[6] !== null) entry.config = toConfig(t[6]);
      return entry;
    }
    default:
      return fail(`unknown entry kind ${String(t[0])}`);
  }
}

export function hardStateTuple(h: HardState): unknown[] {
  return [h.term, h.vote, h.commit];
}

export function toHardState(v: unknown): HardState {
  const t = arr(v, 'hard state');
  return { term: uint(t[0], 'term'), vote: uint(t[1], 'vote'), commit: uint(t[2], 'commit') };
}

export function snapshotMetaTuple(m: SnapshotMeta): unknown[] {
  return [m.index, m.term, configTuple(m.config)];
}

export function toSnapshotMeta(v: unknown): SnapshotMeta {
  const t = arr(v, 'snapshot meta');
  return { index: uint(t[0], 'snapshot index'), term: uint(t[1], 'snapshot term'), config: toConfig(t[2]) };
}
