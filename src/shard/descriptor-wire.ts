/**
 * The wire form of a shard descriptor in a WRONG_SHARD answer (issue 10, "Routing"): the node encodes, the
 * SDK decodes, both import this one pure module. It travels in the trailer `tessera-shard` beside the
 * existing `tessera-reason: WRONG_SHARD`, `tessera-epoch` (the owner's epoch) and the leader hint trailers
 * `tessera-leader-id` / `tessera-leader-address` (the owner's leader, as NOT_LEADER sends it), so it is
 * printable ASCII: a gRPC metadata value, and a plain string in the per-request trailers of Multi/Pipeline.
 *
 *   full:        `1;<id>;<epoch>;<start hex>;<end hex or *>;<node><v|l>,...`   e.g. `1;7;4;61;6d;1v,2v,3l`
 *   epoch only:  `1;<id>;<epoch>`   (when the full form would exceed SHARD_WIRE_CHARS_MAX: long keys)
 *
 * `*` is +infinity; the empty start is the empty field. Numbers are decimal, no sign, no leading zeros;
 * keys are lowercase hex. Compatibility: fields are only ever appended (a decoder ignores fields after the
 * six it knows); a different leading version is an incompatible form and decodes as invalid.
 * Trust: the decoder takes hostile text. It never throws: it bounds the length first, checks every field's
 * syntax and range, and builds the descriptor through makeDescriptor (all descriptor invariants).
 */
import { TesseraError, isEpoch, isNodeId, isShardId } from '../base';
import type { Epoch, ErrorDetails, NodeId, ShardId } from '../base';
import { makeDescriptor } from './descriptor';
import type { Replica, ShardDescriptor } from './descriptor';
import type { Key, KeyEnd } from './key';

/** The trailer that carries the descriptor of the shard that owns the key. */
export const SHARD_TRAILER = 'tessera-shard';
/** Longest encoded descriptor (chars). A full form past it is sent as epoch only. */
export const SHARD_WIRE_CHARS_MAX = 4096;
/** Most replicas a decoded descriptor may list (a shard has a handful). */
export const SHARD_WIRE_REPLICAS_MAX = 64;

const VERSION = '1';
const HEX = '0123456789abcdef';

export type ShardWireDecoded =
  | { readonly kind: 'descriptor'; readonly descriptor: ShardDescriptor }
  /** Only the owner's id and epoch: load its descriptor elsewhere (the meta shard). */
  | { readonly kind: 'epoch'; readonly id: ShardId; readonly epoch: Epoch }
  | { readonly kind: 'invalid'; readonly reason: string };

function hexOf(key: Key): string {
  let out = '';
  for (let i = 0; i < key.length; i++) out += HEX[(key[i] as number) >> 4]! + HEX[(key[i] as number) & 15]!;
  return out;
}

/** The full form when it fits in SHARD_WIRE_CHARS_MAX, else the epoch-only form. */
export function encodeShardWire(d: ShardDescriptor): string {
  const short = `${VERSION};${d.id};${d.epoch}`;
  // 2 hex chars per key byte: skip building a form that cannot fit.
  if (2 * (d.start.length + (d.end?.length ?? 0)) > SHARD_WIRE_CHARS_MAX) return short;
  const end = d.end === null ? '*' : hexOf(d.end);
  const replicas = d.replicas.map((r) => `${r.node}${r.role === 'voter' ? 'v' : 'l'}`).join(',');
  const full = `${short};${hexOf(d.start)};${end};${replicas}`;
  return full.length <= SHARD_WIRE_CHARS_MAX ? full : short;
}

/**
 * The ErrorDetails a node puts in its WRONG_SHARD TesseraError: the owner's epoch, its descriptor (wire
 * form, under `shard`) and, when known, the owner's leader. The server maps them to trailers: `epoch`,
 * `leaderId` and `leaderAddress` as today, `shard` to SHARD_TRAILER.
 */
export function wrongShardDetails(owner: ShardDescriptor, leader?: { id: NodeId; address?: string }): ErrorDetails {
  const details: ErrorDetails = { epoch: owner.epoch, shard: encodeShardWire(owner) };
  if (leader !== undefined && isNodeId(leader.id)) details.leaderId = leader.id;
  if (leader?.address) details.leaderAddress = leader.address;
  return details;
}

/** A decimal number without sign or leading zeros, at most 16 digits (safe integers); else null. */
function decimal(text: string): number | null {
  if (text.length === 0 || text.length > 16 || (text.length > 1 && text[0] === '0')) return null;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 48 || text.charCodeAt(i) > 57) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** Lowercase hex (even length) to bytes; else null. */
function keyOf(text: string): Key | null {
  if (text.length % 2 !== 0) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexDigit(text.charCodeAt(2 * i));
    const lo = hexDigit(text.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return null;
    out[i] = hi * 16 + lo;
  }
  return out;
}

function replicasOf(text: string): Replica[] | string {
  const parts = text.split(',', SHARD_WIRE_REPLICAS_MAX + 1);
  if (parts.length > SHARD_WIRE_REPLICAS_MAX) return `more than ${SHARD_WIRE_REPLICAS_MAX} replicas`;
  const out: Replica[] = [];
  for (const p of parts) {
    const node = decimal(p.slice(0, -1));
    const role = p.endsWith('v') ? 'voter' : p.endsWith('l') ? 'learner' : null;
    if (node === null || !isNodeId(node) || role === null) return `bad replica '${p.slice(0, 24)}'`;
    out.push({ node, role });
  }
  return out;
}

const invalid = (reason: string): ShardWireDecoded => ({ kind: 'invalid', reason });

/** Decodes hostile text; never throws. */
export function decodeShardWire(text: unknown): ShardWireDecoded {
  if (typeof text !== 'string') return invalid('not a string');
  if (text.length > SHARD_WIRE_CHARS_MAX) return invalid(`longer than ${SHARD_WIRE_CHARS_MAX} chars`);
  const f = text.split(';');
  if (f[0] !== VERSION) return invalid(`unknown version '${(f[0] ?? '').slice(0, 8)}'`);
  if (f.length !== 3 && f.length < 6) return invalid(`${f.length} fields`);
  const id = decimal(f[1] as string);
  const epoch = decimal(f[2] as string);
  if (!isShardId(id)) return invalid('bad shard id');
  if (!isEpoch(epoch)) return invalid('bad epoch');
  if (f.length === 3) return { kind: 'epoch', id, epoch };
  const start = keyOf(f[3] as string);
  const end: KeyEnd | undefined = f[4] === '*' ? null : (keyOf(f[4] as string) ?? undefined);
  if (start === null || end === undefined) return invalid('bad key');
  const replicas = replicasOf(f[5] as string);
  if (typeof replicas === 'string') return invalid(replicas);
  try {
    return { kind: 'descriptor', descriptor: makeDescriptor({ id, epoch, start, end, replicas }) };
  } catch (e) {
    if (e instanceof TesseraError) return invalid(String(e.details.rule ?? e.message));
    throw e;
  }
}
