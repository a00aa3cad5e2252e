/**
 * What each client method needs (proto/kv.proto, proto/admin.proto), computed from its request before the
 * node does anything with it:
 * - KV reads (Get, Scan, a Batch of gets only) need `read`; writes (Put, Delete, CompareAndSwap, a Batch
 *   with a put or delete, OpenSession) need `readwrite`; each key they name (every key of a Batch, a Multi)
 *   and the range a Scan reads must be inside the user's prefix grants.
 * - Admin.Status and Admin.ListShards need `read`: the SDK routes with them (members, the shard map).
 *   Every other Admin method (membership, transfer, shards, nodes, digests, backups) needs `admin`.
 * - A method missing from the table needs `admin` (fail closed); methodPolicyNames() lists the table so a
 *   test can check that every method of the loaded protos has its own row.
 * Requests are hostile: every field is read defensively (a field of the wrong type counts as absent or
 * empty), and the request validation that runs afterwards still refuses malformed requests.
 */
import type { KeyRange, Requirement, Role } from './roles';

type Wire = Record<string, unknown> | null | undefined;

const EMPTY = Buffer.alloc(0);

function field(o: Wire, name: string): Wire {
  const v = o?.[name];
  return typeof v === 'object' && v !== null && !Buffer.isBuffer(v) ? (v as Record<string, unknown>) : null;
}

function bytes(o: Wire, name: string): Buffer {
  const v = o?.[name];
  return Buffer.isBuffer(v) ? v : EMPTY;
}

function list(o: Wire, name: string): Wire[] {
  const v = o?.[name];
  return Array.isArray(v) ? (v as Wire[]) : [];
}

const need = (role: Role, keys: Buffer[] = [], ranges: KeyRange[] = []): Requirement => ({ role, keys, ranges });

function maxRole(a: Role, b: Role): Role {
  const rank = { read: 0, readwrite: 1, admin: 2 } as const;
  return rank[a] >= rank[b] ? a : b;
}

/** The oneof case of a Multi / Pipeline / Batch op: its `op` name, else the first request field set. */
function opCase(op: Wire, cases: readonly string[]): string | null {
  const named = op?.op;
  if (typeof named === 'string' && cases.includes(named)) return named;
  for (const c of cases) if (field(op, c) !== null) return c;
  return null;
}

const MULTI_CASES = ['get', 'put', 'delete', 'compareAndSwap', 'openSession'] as const;

/** One op of KV.Multi or KV.Pipeline (an op without a request needs `read`: it is refused afterwards). */
export function multiOpRequirement(op: Wire): Requirement {
  const c = opCase(op, MULTI_CASES);
  if (c === null) return need('read');
  if (c === 'openSession') return need('readwrite');
  return need(c === 'get' ? 'read' : 'readwrite', [bytes(field(op, c), 'key')]);
}

/** Several requirements as one: the highest role, every key and range. */
export function combine(parts: Requirement[]): Requirement {
  let role: Role = 'read';
  const keys: Buffer[] = [];
  const ranges: KeyRange[] = [];
  for (const p of parts) {
    role = maxRole(role, p.role);
    keys.push(...p.keys);
    ranges.push(...p.ranges);
  }
  return { role, keys, ranges };
}

function batchRequirement(req: Wire): Requirement {
  const parts = list(req, 'compares').map((c) => need('read', [bytes(c, 'key')]));
  for (const op of list(req, 'ops')) {
    const c = opCase(op, ['put', 'delete', 'get']);
    parts.push(need(c === 'get' || c === null ? 'read' : 'readwrite', c === null ? [] : [bytes(field(op, c), 'key')]));
  }
  return combine(parts);
}

type Policy = (request: Wire) => Requirement;

const ADMIN: Policy = () => need('admin');

const POLICIES: Readonly<Record<string, Policy>> = {
  'KV.Get': (r) => need('read', [bytes(r, 'key')]),
  'KV.Put': (r) => need('readwrite', [bytes(r, 'key')]),
  'KV.Delete': (r) => need('readwrite', [bytes(r, 'key')]),
  'KV.CompareAndSwap': (r) => need('readwrite', [bytes(r, 'key')]),
  'KV.Scan': (r) => need('read', [], [{ start: bytes(r, 'start'), end: bytes(r, 'end') }]),
  'KV.Batch': batchRequirement,
  'KV.Multi': (r) => combine(list(r, 'ops').map(multiOpRequirement)),
  // The stream itself needs an authenticated user; each of its ops is checked as it arrives.
  'KV.Pipeline': () => need('read'),
  'KV.OpenSession': () => need('readwrite'),
  'Admin.Status': () => need('read'),
  'Admin.ListShards': () => need('read'),
  'Admin.AddNode': ADMIN,
  'Admin.RemoveNode': ADMIN,
  'Admin.TransferLeader': ADMIN,
  'Admin.Digest': ADMIN,
  'Admin.SplitShard': ADMIN,
  'Admin.ListNodes': ADMIN,
  'Admin.MoveReplica': ADMIN,
  'Admin.SetNodeState': ADMIN,
  'Admin.BackupShard': ADMIN,
};

/** What `Service.Method` needs for `request` (a method not in the table needs `admin`). */
export function requirementOf(method: string, request: unknown): Requirement {
  const policy = Object.hasOwn(POLICIES, method) ? POLICIES[method] : undefined;
  return (policy ?? ADMIN)(typeof request === 'object' ? (request as Wire) : null);
}

/** The methods with their own row (tests check every method of the protos is one of them). */
export function methodPolicyNames(): string[] {
  return Object.keys(POLICIES);
}
