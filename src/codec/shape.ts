/**
 * Shape checks for decoded tuples. They throw ShapeError; the public decoders turn it into a
 * TesseraError with the right code (CORRUPTION for stored data, INVALID_ARGUMENT for network input).
 */
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

export function bytesOrNull(v: unknown, what: string): Buffer | null {
  return v === null ? null : bytes(v, what);
}

export function uintList(v: unknown, what: string): number[] {
  const a = arr(v, what);
  for (const x of a) uint(x, what);
  return a as number[];
}
