/**
 * The simulator's client commands as carried in Raft entry data: JSON through TextEncoder. Every command
 * has a unique operation id (`op`), so the state machine can deduplicate re-proposals of the same
 * operation and checkers can identify an entry across nodes. A split (the `splits` fault mix, split-state.ts)
 * is a command in the parent's log, planned against the parent's epoch, as kv/split-apply.ts's.
 */
export type SimCommand =
  | { op: number; t: 'put'; k: string; v: string }
  /** e: the expected current value, null = absent. */
  | { op: number; t: 'cas'; k: string; e: string | null; v: string }
  /** Cut the group at k: [k, end) becomes group `right` at newEpoch (planned against `epoch`). */
  | { op: number; t: 'split'; k: string; epoch: number; newEpoch: number; right: number };

/** wrongShard: the key is not in the group's range at the entry's index (nothing applied). */
export type SimResult =
  { t: 'put' } | { t: 'cas'; ok: boolean; cur: string | null } | { t: 'wrongShard' } | { t: 'split'; ok: boolean };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(command: SimCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

export function decodeCommand(data: Uint8Array): SimCommand {
  const parsed = JSON.parse(decoder.decode(data)) as SimCommand;
  if (typeof parsed.op !== 'number' || (parsed.t !== 'put' && parsed.t !== 'cas' && parsed.t !== 'split')) {
    throw new Error(`not a simulator command: ${decoder.decode(data)}`);
  }
  return parsed;
}

export function sameResult(a: SimResult, b: SimResult): boolean {
  if (a.t !== b.t) return false;
  if (a.t === 'cas' && b.t === 'cas') return a.ok === b.ok && a.cur === b.cur;
  if (a.t === 'split' && b.t === 'split') return a.ok === b.ok;
  return true;
}

export function describeCommand(c: SimCommand): string {
  if (c.t === 'split') return `split#${c.op}(${c.k} -> g${c.right} @${c.epoch}->${c.newEpoch})`;
  return c.t === 'put' ? `put#${c.op}(${c.k}=${c.v})` : `cas#${c.op}(${c.k}:${c.e ?? '∅'}->${c.v})`;
}
