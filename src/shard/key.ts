/**
 * Byte keys of the user keyspace, compared as unsigned bytes (LevelDB's order). A range is `[start, end)`;
 * `end` null means +infinity, and the empty key is the smallest key, so `[empty, null)` is the whole keyspace.
 * Pure: Uint8Array only (Buffer is a Uint8Array, so node code passes Buffers unchanged).
 */
export type Key = Uint8Array;
/** The exclusive end of a range; null is +infinity. */
export type KeyEnd = Uint8Array | null;

export const KEYSPACE_START: Key = new Uint8Array(0);

/** -1, 0 or 1 as `a` sorts before, equal to or after `b` (bytewise, a prefix sorts first). */
export function compareKeys(a: Key, b: Key): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function keysEqual(a: Key, b: Key): boolean {
  return compareKeys(a, b) === 0;
}

/** Compares two exclusive ends, null (+infinity) after every key. */
export function compareEnds(a: KeyEnd, b: KeyEnd): number {
  if (a === null) return b === null ? 0 : 1;
  if (b === null) return -1;
  return compareKeys(a, b);
}

/** True when `key` is before the exclusive end `end`. */
export function isBeforeEnd(key: Key, end: KeyEnd): boolean {
  return end === null || compareKeys(key, end) < 0;
}

/** True when `[aStart, aEnd)` and `[bStart, bEnd)` share at least one key (both ranges non-empty). */
export function rangesOverlap(aStart: Key, aEnd: KeyEnd, bStart: Key, bEnd: KeyEnd): boolean {
  return isBeforeEnd(aStart, bEnd) && isBeforeEnd(bStart, aEnd);
}

/** A private copy, so that a caller mutating its buffer cannot move a boundary. */
export function copyKey(key: Key): Key {
  return new Uint8Array(key);
}

const HEX = '0123456789abcdef';

/**
 * The key as people read it (CLI, logs, reasons): itself when it is printable ASCII (0x20..0x7e) and not
 * empty, else hex with a `0x` prefix (`0x` alone for the empty key). null ends print as `null`.
 */
export function printableKey(key: KeyEnd): string {
  if (key === null) return 'null';
  let printable = key.length > 0;
  for (let i = 0; i < key.length && printable; i++)
    printable = (key[i] as number) >= 0x20 && (key[i] as number) <= 0x7e;
  if (printable) {
    let text = '';
    for (let i = 0; i < key.length; i++) text += String.fromCharCode(key[i] as number);
    return text;
  }
  let out = '0x';
  for (let i = 0; i < key.length; i++) out += HEX[(key[i] as number) >> 4]! + HEX[(key[i] as number) & 15]!;
  return out;
}
