/**
 * Shape checks for decoded tuples. They throw ShapeError; the public decoders turn it into a
 * TesseraError with the right code (CORRUPTION for stored data, INVALID_ARGUMENT for network input).
 */
import { isNodeId } from '../base';

export class ShapeError extends Error {}

export function fail(what: string): never {
  throw new ShapeError(what);
}

export function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) fail(`${what}: expected an array`);
  return v;
}

/** A non-negative safe integer. */
export function uint(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what}: expected a non-negative integer`);
  return v;
}

/** A non-negative integer at most `max` (a safe integer bound). */
export function uintAtMost(v: unknown, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
    fail(`${what}: expected an integer in [0, ${max}]`);
  return v;
}

/** A node id (a positive 32-bit integer, base/ids.ts). */
export function nodeId(v: unknown, what: string): number {
  if (!isNodeId(v)) fail(`${what}: expected a node id`);
  return v;
}

/** A list of at most `max` node ids. */
export function nodeIdList(v: unknown, max: number, what: string): number[] {
  const a = arr(v, what);
  if (a.length > max) fail(`${what}: more than ${max} ids`);
  for (const x of a) nodeId(x, what);
  return a as number[];
}

/** An array of at most `max` elements. */
export function arrAtMost(v: unknown, max: number, what: string): unknown[] {
  const a = arr(v, what);
  if (a.length > max) fail(`${what}: more than ${max} elements`);
  return a;
}

export function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') fail(`${what}: expected a boolean`);
  return v;
}

export function str(v: unknown, what: string): string {
  if (typeof v !== 'string') fail(`${what}: expected a string`);
  return v;
}

export function bytes(v: unknown, what: string): Buffer {
  if (!Buffer.isBuffer(v)) {
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    fail(`${what}: expected bytes`);
  }
  return v;
}

/** Bytes of at most `max` bytes. */
export function bytesAtMost(v: unknown, max: number, what: string): Buffer {
  const b = bytes(v, what);
  if (b.length > max) fail(`${what}: more than ${max} bytes`);
  return b;
}

export function bytesOrNull(v: unknown, what: string): Buffer | null {
  return v === null ? null : bytes(v, what);
}

export function uintList(v: unknown, what: string): number[] {
  const a = arr(v, what);
  for (const x of a) uint(x, what);
  return a as number[];
}
