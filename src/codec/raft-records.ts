/**
 * Stored records of the Raft state (r/ keys) and of the install-pending marker (m/<g>/install):
 * checksummed msgpackr records (record.ts) of the tuples in raft-tuples.ts.
 * Decoders throw TesseraError('CORRUPTION', ..., { key }) on any defect.
 */
import { TesseraError } from '../base';
import type { Entry, HardState, SnapshotMeta } from '../raft';
import { entryTuple, hardStateTuple, snapshotMetaTuple, toEntry, toHardState, toSnapshotMeta } from './raft-tuples';
import { decodeRecord, encodeRecord } from './record';
import { ShapeError, arr, str, uint } from './shape';

/** Decodes a record and converts its body, mapping shape errors to CORRUPTION naming the key. */
export function decodeShaped<T>(buf: Uint8Array, keyForError: string, convert: (v: unknown) => T): T {
  const value = decodeRecord(buf, keyForError);
  try {
    return convert(value);
  } catch (e) {
    if (e instanceof ShapeError) {
      throw new TesseraError('CORRUPTION', `corrupt record at key ${keyForError}: ${e.message}`, { key: keyForError });
    }
    throw e;
  }
}

export function encodeEntry(entry: Entry): Buffer {
  return encodeRecord(entryTuple(entry));
}

export function decodeEntry(buf: Uint8Array, keyForError = '(entry)'): Entry {
  return decodeShaped(buf, keyForError, toEntry);
}

export function encodeHardState(hardState: HardState): Buffer {
  return encodeRecord(hardStateTuple(hardState));
}

export function decodeHardState(buf: Uint8Array, keyForError = '(hard state)'): HardState {
  return decodeShaped(buf, keyForError, toHardState);
}

export function encodeSnapshotMeta(meta: SnapshotMeta): Buffer {
  return encodeRecord(snapshotMetaTuple(meta));
}

export function decodeSnapshotMeta(buf: Uint8Array, keyForError = '(snapshot meta)'): SnapshotMeta {
  return decodeShaped(buf, keyForError, toSnapshotMeta);
}

/** A stored index (m/<g>/applied). */
export function encodeIndex(index: number): Buffer {
  return encodeRecord(index);
}

export function decodeIndex(buf: Uint8Array, keyForError: string): number {
  return decodeShaped(buf, keyForError, (v) => uint(v, 'index'));
}

/** A snapshot install that must complete before the group's state machine is used. */
export interface InstallMarker {
  stagingId: string;
  index: number;
  term: number;
}

export function encodeInstallMarker(m: InstallMarker): Buffer {
  return encodeRecord([m.stagingId, m.index, m.term]);
}

export function decodeInstallMarker(buf: Uint8Array, keyForError: string): InstallMarker {
  return decodeShaped(buf, keyForError, (v) => {
    const t = arr(v, 'install marker');
    return { stagingId: str(t[0], 'staging id'), index: uint(t[1], 'index'), term: uint(t[2], 'term') };
  });
}
