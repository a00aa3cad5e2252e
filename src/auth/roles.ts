/**
 * Roles and key-prefix grants (like etcd's roles): what a user may do, and the pure checks of a request's
 * needs against it.
 * - Roles are ordered: `read` < `readwrite` < `admin`; a role includes the ones below it.
 * - A user with prefixes may only touch keys starting with one of them; a scan range must lie inside one
 *   prefix's range (a range outside is refused, never clipped). A user without prefixes (or an admin) may
 *   touch every key.
 * Invariant: every check is total over hostile input (keys that are not Buffers count as empty keys).
 */
export const ROLES = ['read', 'readwrite', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const RANK: Readonly<Record<Role, number>> = { read: 0, readwrite: 1, admin: 2 };

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** True when `have` includes the rights of `need`. */
export function roleIncludes(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

/** A key range [start, end); an empty end means "to the end of the keyspace". */
export interface KeyRange {
  start: Buffer;
  end: Buffer;
}

/** What one request needs: a role, the keys it touches, and the ranges it reads. */
export interface Requirement {
  role: Role;
  keys: Buffer[];
  ranges: KeyRange[];
}

/** Who a valid token names: the user, its role and its grants (empty prefixes: every key). */
export interface Principal {
  user: string;
  role: Role;
  prefixes: Buffer[];
}

export type Decision = { ok: true } | { ok: false; reason: string };

const EMPTY = Buffer.alloc(0);

function asBuffer(b: unknown): Buffer {
  return Buffer.isBuffer(b) ? b : EMPTY;
}

/** The first key after every key starting with `prefix` (empty: no such key, the range is unbounded). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return EMPTY;
}

function keyAllowed(prefixes: Buffer[], key: Buffer): boolean {
  for (const p of prefixes) if (key.length >= p.length && key.subarray(0, p.length).equals(p)) return true;
  return false;
}

/** [start, end) inside [p, prefixEnd(p)) for some prefix p. */
function rangeAllowed(prefixes: Buffer[], r: KeyRange): boolean {
  for (const p of prefixes) {
    const start = asBuffer(r.start);
    const end = asBuffer(r.end);
    if (!(start.length >= p.length && start.subarray(0, p.length).equals(p))) continue;
    const pEnd = prefixEnd(p);
    if (pEnd.length === 0) return true;
    if (end.length > 0 && Buffer.compare(end, pEnd) <= 0) return true;
  }
  return false;
}

function show(key: Buffer): string {
  const text = key.subarray(0, 64).toString('utf8');
  return /^[\x20-\x7e]*$/.test(text) ? JSON.stringify(text) : `0x${key.subarray(0, 32).toString('hex')}`;
}

/** Whether `who` may do what `need` describes; the reason names the first refused part. */
export function authorize(who: Principal, need: Requirement): Decision {
  if (!roleIncludes(who.role, need.role))
    return { ok: false, reason: `user '${who.user}' has role ${who.role}; this call needs ${need.role}` };
  if (who.prefixes.length === 0) return { ok: true };
  for (const k of need.keys) {
    const key = asBuffer(k);
    if (!keyAllowed(who.prefixes, key))
      return { ok: false, reason: `user '${who.user}' may not touch key ${show(key)} (outside its key prefixes)` };
  }
  for (const r of need.ranges) {
    if (!rangeAllowed(who.prefixes, r))
      return {
        ok: false,
        reason: `user '${who.user}' may not scan [${show(asBuffer(r.start))}, ${r.end.length ? show(asBuffer(r.end)) : 'end'}) (outside its key prefixes; scan within one prefix)`,
      };
  }
  return { ok: true };
}
