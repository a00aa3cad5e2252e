/** Shared pieces of the split tests: commands, entries at any index, and a parent log that splits. */
import { encodeCommand, withFingerprint } from '../../../src/codec';
import type { Command } from '../../../src/codec';
import type { Entry } from '../../../src/raft';
import { SPLIT_INITIAL_INDEX, StateMachine } from '../../../src/kv';
import type { KeyRange } from '../../../src/kv';
import type { NodeStore } from '../../../src/storage';
import { b, put, whole } from './helpers';

export const AT_MS = 1_700_000_000_000;
export const RIGHT = 2;

export const split = (key: string, epoch = 1, rightGroupId = RIGHT, newEpoch = epoch + 1): Command => ({
  type: 'split',
  splitKey: b(key),
  epoch,
  rightGroupId,
  newEpoch,
  session: null,
  atMs: AT_MS,
});

export const register = (clientId: string): Command => ({ type: 'registerSession', clientId, atMs: AT_MS });

/** A put of this version's form: its session carries the request fingerprint. */
export const fput = (k: string, v: string, clientId: string, seq: number): Command =>
  withFingerprint({ ...put(k, v, { clientId, seq }), atMs: AT_MS });

/** Normal entries for `commands`, the first at index `first`. */
export function entriesFrom(first: number, commands: Command[]): Entry[] {
  return commands.map((c, i) => ({ kind: 'normal', term: 1, index: first + i, data: encodeCommand(c) }));
}

/** Entries of the right-hand group's log after the split (its log starts after SPLIT_INITIAL_INDEX). */
export const rightEntries = (commands: Command[]): Entry[] => entriesFrom(SPLIT_INITIAL_INDEX + 1, commands);

/**
 * The parent's log before its split at 'k': session s1 (registered, fingerprinted) wrote m=1 at seq 1,
 * legacy session s2 (no fingerprint) wrote n=1 at seq 1, then m and n were overwritten without a session.
 */
export const beforeSplit: Command[] = [
  register('s1'),
  put('a', 'left'),
  fput('m', '1', 's1', 1),
  { ...put('n', '1', { clientId: 's2', seq: 1 }), atMs: AT_MS },
  put('m', '2'),
  put('n', '2'),
];

export const open = (store: NodeStore, groupId = 1, range: KeyRange = whole): Promise<StateMachine> =>
  StateMachine.open(store, groupId, range, { sessionsMax: 100 });
