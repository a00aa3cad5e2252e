/**
 * The simulator's client commands as carried in Raft entry data: JSON through TextEncoder. Every command
 * has a unique operation id (`op`), so the state machine can deduplicate re-proposals of the same
 * operation and checkers can identify an entry across nodes.
 */
export type SimCommand =
  | { op: number; t: 'put'; k: string; v: string }
  /** e: the expected current value, null = absent. */
  | { op: number; t: 'cas'; k: string; e: string | null; v: string };

export type SimResult = { t: 'put' } | { t: 'cas'; ok: boolean; cur: string | null };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(command: SimCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

export function decodeCommand(data: Uint8Array): SimCommand {
  const parsed = JSON.parse(decoder.decode(data)) as SimCommand;
  if (typeof parsed.op !== 'number' || (parsed.t !== 'put' && parsed.t !== 'cas')) {
    throw new Error(`not a simulator command: ${decoder.decode(data)}`);
  }
  return parsed;
}

export function sameResult(a: SimResult, b: SimResult): boolean {
  if (a.t === 'put' || b.t === 'put') return a.t === b.t;
  return a.ok === b.ok && a.cur === b.cur;
}

export function describeCommand(c: SimCommand): string {
  return c.t === 'put' ? `put#${c.op}(${c.k}=${c.v})` : `cas#${c.op}(${c.k}:${c.e ?? '∅'}->${c.v})`;
}
