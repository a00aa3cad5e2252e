/**
 * Compact tuple forms of the Raft core's data types (entries, snapshot meta, configurations), shared by
 * the stored records (raft-records.ts) and the wire format of peer messages (raft-message.ts).
 * The to* functions throw ShapeError on malformed input: terms at most TERM_MAX, indexes at most
 * INDEX_MAX (raft/limits.ts), node ids valid (base/ids.ts), known entry kinds and change types, bounded
 * lists and contexts. The meaning (contiguity, term order, config invariants) is the core's to check.
 */
import { INDEX_MAX, TERM_MAX } from '../raft';
import type { ConfigState, Entry, HardState, MembershipChange, SnapshotMeta } from '../raft';
import { arr, bytes, bytesAtMost, fail, nodeId, nodeIdList, uint, uintAtMost } from './shape';

/** The most ids in one list of a configuration (far above any real cluster). */
export const CONFIG_IDS_MAX = 1024;
/** The largest context of a membership change (node/ puts the member's address there). */
export const CHANGE_CONTEXT_BYTES_MAX = 64 * 1024;

export function term(v: unknown, what: string): number {
  return uintAtMost(v, TERM_MAX, what);
}

export function index(v: unknown, what: string): number {
  return uintAtMost(v, INDEX_MAX, what);
}

const ENTRY_NORMAL = 0;
const ENTRY_EMPTY = 1;
const ENTRY_CONFIG = 2;
const CHANGE_TYPES = ['addVoter', 'addLearner', 'removeNode'] as const;

export function configTuple(c: ConfigState): unknown[] {
  return [c.voters, c.learners, c.votersOutgoing];
}

export function toConfig(v: unknown): ConfigState {
  const t = arr(v, 'config');
  return {
    voters: nodeIdList(t[0], CONFIG_IDS_MAX, 'voters'),
    learners: nodeIdList(t[1], CONFIG_IDS_MAX, 'learners'),
    votersOutgoing: nodeIdList(t[2], CONFIG_IDS_MAX, 'votersOutgoing'),
  };
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
  const entryTerm = term(t[1], 'entry term');
  const entryIndex = index(t[2], 'entry index');
  switch (t[0]) {
    case ENTRY_NORMAL:
      return { kind: 'normal', term: entryTerm, index: entryIndex, data: bytes(t[3], 'entry data') };
    case ENTRY_EMPTY:
      return { kind: 'empty', term: entryTerm, index: entryIndex };
    case ENTRY_CONFIG: {
      const type = CHANGE_TYPES[uint(t[3], 'change type')];
      if (type === undefined) fail(`unknown membership change type ${String(t[3])}`);
      const change: MembershipChange = { type, node: nodeId(t[4], 'change node') };
      if (t[5] !== null) change.context = bytesAtMost(t[5], CHANGE_CONTEXT_BYTES_MAX, 'change context');
      const entry: Entry = { kind: 'config', term: entryTerm, index: entryIndex, change };
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
  const vote = uint(t[1], 'vote');
  if (vote !== 0) nodeId(vote, 'vote');
  return { term: term(t[0], 'term'), vote, commit: index(t[2], 'commit') };
}

export function snapshotMetaTuple(m: SnapshotMeta): unknown[] {
  return [m.index, m.term, configTuple(m.config)];
}

export function toSnapshotMeta(v: unknown): SnapshotMeta {
  const t = arr(v, 'snapshot meta');
  return { index: index(t[0], 'snapshot index'), term: term(t[1], 'snapshot term'), config: toConfig(t[2]) };
}
