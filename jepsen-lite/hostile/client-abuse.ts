/**
 * Abuse of the client door (issue 8, sections 1 and 3): garbage bytes on every RPC, oversized fields,
 * unknown enum values, session abuse, and Admin calls that would break quorum. Each function returns what
 * the node answered; none of them needs more than the client port and the public Admin.Status.
 *
 * Keys written here live under `hostile/` (never the workload's `jl/` keys).
 */
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import type { Random } from '../../src/base';
import type { NodeDoor } from './cluster-view';
import { nodeStatus } from './cluster-view';
import { bidiStream, clientStream, encode, rawClient, statusName, unary, type Answer } from './wire';

export const HOSTILE_PREFIX = 'hostile/';

/** Every RPC a node serves on its client port (and Raft's on its peer port), with its streaming shape. */
export const allMethods: readonly { path: string; shape: 'unary' | 'server' | 'client' | 'bidi'; peer?: true }[] = [
  { path: '/tessera.v1.KV/Get', shape: 'unary' },
  { path: '/tessera.v1.KV/Put', shape: 'unary' },
  { path: '/tessera.v1.KV/Delete', shape: 'unary' },
  { path: '/tessera.v1.KV/CompareAndSwap', shape: 'unary' },
  { path: '/tessera.v1.KV/Scan', shape: 'unary' },
  { path: '/tessera.v1.KV/Batch', shape: 'unary' },
  { path: '/tessera.v1.KV/Multi', shape: 'server' },
  { path: '/tessera.v1.KV/Pipeline', shape: 'bidi' },
  { path: '/tessera.v1.Admin/Status', shape: 'unary' },
  { path: '/tessera.v1.Admin/AddNode', shape: 'unary' },
  { path: '/tessera.v1.Admin/RemoveNode', shape: 'unary' },
  { path: '/tessera.v1.Admin/TransferLeader', shape: 'unary' },
  { path: '/tessera.v1.Raft/Stream', shape: 'bidi', peer: true },
  { path: '/tessera.v1.Raft/InstallSnapshot', shape: 'client', peer: true },
];

/**
 * Bytes no protobuf decoder accepts: the first tag is field 0 (never declared, so the decoder skips it by
 * its wire type) with wire type 7 (there is none, so the skip fails). A lucky draw can never decode into a
 * real request (say, an AddNode). A declared field number would not do: protobufjs reads a known field by
 * its declared type whatever the wire type says.
 */
export function garbage(rng: Random, bytes: number): Buffer {
  const b = Buffer.alloc(Math.max(1, bytes));
  for (let i = 0; i < b.length; i++) b[i] = rng.int(0, 255);
  b[0] = 0x07;
  return b;
}

function serverStream(address: string, path: string, request: Buffer, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (a: Answer): void => {
      if (!done) resolve(a);
      done = true;
    };
    const call = rawClient(address).makeServerStreamRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
    );
    call.on('data', () => undefined);
    call.on('error', (e: grpc.ServiceError) => finish({ code: statusName(e.code), detail: e.details }));
    call.on('status', (s: grpc.StatusObject) => finish({ code: statusName(s.code), detail: s.details }));
  });
}

/** Garbage request bytes on every RPC of the node; one answer per method, in allMethods order. */
export async function garbageOnEveryRpc(target: NodeDoor, rng: Random): Promise<Answer[]> {
  const out: Answer[] = [];
  for (const m of allMethods) {
    const address = m.peer ? (target.peerAddress ?? target.clientAddress) : target.clientAddress;
    const bytes = garbage(rng, rng.int(1, 512));
    let a: Answer;
    switch (m.shape) {
      case 'unary':
        a = (await unary(address, m.path, bytes, 3000)).answer;
        break;
      case 'server':
        a = await serverStream(address, m.path, bytes, 3000);
        break;
      case 'client':
        a = (await clientStream(address, m.path, [bytes], 3000)).answer;
        break;
      case 'bidi':
        a = (await bidiStream(address, m.path, [bytes], { holdMs: 200, timeoutMs: 3000 })).answer;
        break;
    }
    out.push({ code: a.code, detail: `${m.path.split('/').pop()}: ${a.detail}` });
  }
  return out;
}

const KIB = 1024;

/** Oversized fields: a key past the key limit, a value past the value limit, a batch past its op limit,
 * a scan asking for 2^32-1 items. Each must get a bounded answer (INVALID_ARGUMENT, or OK within limits). */
export async function oversizedFields(target: NodeDoor): Promise<Answer[]> {
  const key = (k: string): Buffer => Buffer.from(HOSTILE_PREFIX + k);
  const calls: [string, Buffer][] = [
    ['Put', encode('PutRequest', { key: Buffer.alloc(8 * KIB, 0x6b), value: Buffer.from('x') })],
    ['Put', encode('PutRequest', { key: key('big-value'), value: Buffer.alloc(2 * KIB * KIB, 0x76) })],
    ['Get', encode('GetRequest', { key: Buffer.alloc(100 * KIB, 0x6b) })],
    [
      'Batch',
      encode('BatchRequest', {
        ops: Array.from({ length: 20_000 }, (_, i) => ({ put: { key: key(`b${i}`), value: Buffer.from('v') } })),
      }),
    ],
    [
      'Scan',
      encode('ScanRequest', {
        start: Buffer.alloc(0),
        end: Buffer.alloc(0),
        limit: 0xffff_ffff,
        bytesMax: 0xffff_ffff,
        consistency: 1,
      }),
    ],
  ];
  const out: Answer[] = [];
  for (const [method, body] of calls) {
    const a = (await unary(target.clientAddress, `/tessera.v1.KV/${method}`, body, 5000)).answer;
    out.push({ code: a.code, detail: `${method} (${body.length} bytes): ${a.detail}` });
  }
  return out;
}

/** Unknown enum values: consistency 7 and -1 on Get and Scan (must be INVALID_ARGUMENT, not the default). */
export async function unknownEnums(target: NodeDoor): Promise<Answer[]> {
  const out: Answer[] = [];
  for (const consistency of [7, -1]) {
    const g = (
      await unary(
        target.clientAddress,
        '/tessera.v1.KV/Get',
        encode('GetRequest', { key: Buffer.from(`${HOSTILE_PREFIX}enum`), consistency }),
        3000,
      )
    ).answer;
    out.push({ code: g.code, detail: `Get consistency ${consistency}: ${g.detail}` });
    const s = (
      await unary(
        target.clientAddress,
        '/tessera.v1.KV/Scan',
        encode('ScanRequest', { start: Buffer.from(HOSTILE_PREFIX), limit: 1, consistency }),
        3000,
      )
    ).answer;
    out.push({ code: s.code, detail: `Scan consistency ${consistency}: ${s.detail}` });
  }
  return out;
}

/** Finding: Admin.AddNode with a 10 KiB address was accepted. Returns the answer; `cleanup` removes the node if it got in. */
export async function addNodeLongAddress(target: NodeDoor, id = 97): Promise<Answer> {
  const address = `${'a'.repeat(10 * KIB)}:1`;
  return (
    await unary(
      target.clientAddress,
      '/tessera.v1.Admin/AddNode',
      encode('AddNodeRequest', { id, address, learner: true }),
      5000,
    )
  ).answer;
}

export interface SessionTag {
  clientId: Buffer;
  seq: number;
}

export const newSession = (seq = 1): SessionTag => ({ clientId: randomBytes(16), seq });

/**
 * KV.OpenSession (registers the session in the log). Hand-encoded (field 1, bytes) so it also runs against
 * a node whose proto has no such call: that node answers UNIMPLEMENTED and sessions are implicit there.
 */
export async function openSession(door: NodeDoor, clientId: Buffer, timeoutMs = 3000): Promise<Answer> {
  const body = Buffer.concat([Buffer.from([0x0a, clientId.length]), clientId]);
  return (await unary(door.clientAddress, '/tessera.v1.KV/OpenSession', body, timeoutMs)).answer;
}

export async function put(
  target: NodeDoor,
  key: string,
  value: string,
  session: SessionTag | null,
  timeoutMs = 3000,
): Promise<Answer> {
  return (
    await unary(
      target.clientAddress,
      '/tessera.v1.KV/Put',
      encode('PutRequest', { key: Buffer.from(key), value: Buffer.from(value), session }),
      timeoutMs,
    )
  ).answer;
}

/**
 * Finding: a reused session seq with a different request was answered with the earlier result (a put to
 * another key answered OK and wrote nothing; a delete or CAS answered INTERNAL). Sends put A (seq 1), then
 * with the same seq: put B, delete B, CAS B. Returns the answers of the three reuses (the first put's
 * answer is the first element's `detail` prefix).
 */
export async function sessionSeqReuse(leader: NodeDoor, tag: string): Promise<Answer[]> {
  const s = newSession(1);
  const a = `${HOSTILE_PREFIX}reuse/${tag}/a`;
  const b = `${HOSTILE_PREFIX}reuse/${tag}/b`;
  // A well-behaved start: the session is opened (where the node has OpenSession) and its first write is fine.
  const opened = await openSession(leader, s.clientId);
  if (opened.code !== 'OK' && opened.code !== 'UNIMPLEMENTED')
    return [{ code: opened.code, detail: `OpenSession failed: ${opened.detail}` }];
  const first = await put(leader, a, 'first', s);
  const out: Answer[] = [];
  const reused = await put(leader, b, 'second', s);
  out.push({ code: reused.code, detail: `put other key, same seq (first put ${first.code}): ${reused.detail}` });
  const del = (
    await unary(
      leader.clientAddress,
      '/tessera.v1.KV/Delete',
      encode('DeleteRequest', { key: Buffer.from(b), session: s }),
      3000,
    )
  ).answer;
  out.push({ code: del.code, detail: `delete, same seq: ${del.detail}` });
  const cas = (
    await unary(
      leader.clientAddress,
      '/tessera.v1.KV/CompareAndSwap',
      encode('CompareAndSwapRequest', {
        key: Buffer.from(b),
        expectedAbsent: true,
        value: Buffer.from('cas'),
        session: s,
      }),
      3000,
    )
  ).answer;
  out.push({ code: cas.code, detail: `cas, same seq: ${cas.detail}` });
  return out;
}

/**
 * Finding: a flood of new sessions evicted another client's session. Opens `count` new sessions
 * (`concurrency` at a time) within `timeBudgetMs`: with KV.OpenSession where the node has it, else with a
 * first put per session (sessions were implicit). Returns every answer (RESOURCE_EXHAUSTED is the rate
 * limit working).
 */
export async function sessionFlood(
  leader: NodeDoor,
  count: number,
  concurrency: number,
  timeBudgetMs: number,
): Promise<Answer[]> {
  const out: Answer[] = [];
  const end = Date.now() + timeBudgetMs;
  let next = 0;
  let implicit = false;
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() < end) {
      const i = next++;
      const s = newSession(1);
      if (!implicit) {
        const a = await openSession(leader, s.clientId, 2000);
        if (a.code !== 'UNIMPLEMENTED') {
          out.push(a);
          continue;
        }
        implicit = true;
      }
      out.push(await put(leader, `${HOSTILE_PREFIX}flood/${i % 64}`, String(i), s, 2000));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

/** Finding: a write from an unknown session with seq > 1 was applied as new (must be SESSION_EXPIRED). */
export async function unknownSessionHighSeq(leader: NodeDoor, tag: string): Promise<Answer> {
  return put(leader, `${HOSTILE_PREFIX}unknown-session/${tag}`, 'v', newSession(7));
}

/**
 * Admin.AddNode of `ids` as voters at unreachable addresses (127.0.0.1:1), one after another, each given
 * timeoutMs (an attacker does not wait for a node that cannot catch up; the node may go on working on it).
 */
export async function addUnreachableVoters(
  leader: NodeDoor,
  ids: readonly number[],
  timeoutMs = 2500,
): Promise<Answer[]> {
  const out: Answer[] = [];
  for (const id of ids) {
    const a = (
      await unary(
        leader.clientAddress,
        '/tessera.v1.Admin/AddNode',
        encode('AddNodeRequest', { id, address: '127.0.0.1:1', learner: false }),
        timeoutMs,
      )
    ).answer;
    out.push({ code: a.code, detail: `AddNode ${id} voter: ${a.detail}` });
  }
  return out;
}

export async function removeNode(door: NodeDoor, id: number, timeoutMs = 5000): Promise<Answer> {
  return (
    await unary(door.clientAddress, '/tessera.v1.Admin/RemoveNode', encode('RemoveNodeRequest', { id }), timeoutMs)
  ).answer;
}

export async function addNode(
  door: NodeDoor,
  id: number,
  address: string,
  learner: boolean,
  timeoutMs = 5000,
): Promise<Answer> {
  return (
    await unary(
      door.clientAddress,
      '/tessera.v1.Admin/AddNode',
      encode('AddNodeRequest', { id, address, learner }),
      timeoutMs,
    )
  ).answer;
}

/**
 * Removes every id of `ids` that `door` still lists as a member (undo of an admin attack), retrying
 * (bounded by timeoutMs) while a change the node is still working on makes it refuse. Returns the answers
 * of the removals (the last one per id).
 */
export async function removeIfMember(door: NodeDoor, ids: readonly number[], timeoutMs = 8000): Promise<Answer[]> {
  const end = Date.now() + timeoutMs;
  const last = new Map<number, Answer>();
  for (;;) {
    const st = await nodeStatus(door, 1500);
    const members = new Set((st?.groups?.[0]?.members ?? []).map((m) => m.id));
    const left = ids.filter((id) => members.has(id));
    if (left.length === 0 || Date.now() > end) break;
    for (const id of left) last.set(id, await removeNode(door, id, Math.max(500, Math.min(5000, end - Date.now()))));
    await new Promise((r) => setTimeout(r, 200));
  }
  return [...last.values()];
}
