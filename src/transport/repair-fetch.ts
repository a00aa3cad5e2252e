/**
 * Raft.FetchRepairSnapshot (proto/raft.proto), both ends: a member whose stored data failed its check
 * pulls a copy of a peer's state machine (self-repair, src/node/self-repair.ts). The chunks are the
 * InstallSnapshot chunks (kv/snapshot-chunk.ts), streamed by the server with backpressure.
 *
 * Invariants:
 * - the server hands nothing to the node before the door (Transport.authenticate) accepted the call and
 *   the request's from/to match the handshake; it writes its proof first, then at most the source's chunks;
 *   the source is closed whatever happens (client gone, write stalled, timeout), and the call always ends;
 * - the client reads no chunk before the server's answer proved the cluster id; every chunk's from/to is
 *   checked; the whole fetch is bounded by a deadline (gRPC cancels the call), and a consumer that stops
 *   early cancels it. What the chunks hold is checked by the staging (kv/snapshot-staging.ts): hostile.
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError, type GroupId, type NodeId } from '../base';
import { PEER_PROTOCOL_VERSION } from './handshake';
import type { SnapshotChunkWire } from './proto';

export interface RepairRequestWire {
  from: number;
  to: number;
  groupId: number;
  minIndex: number;
  /** The peer protocol the request is written in (handshake.ts); 0 or absent: not stamped (an older node). */
  protocolVersion?: number;
}

/** What the node serves a repair request with: chunks, and a close that releases them (idempotent). */
export interface RepairSource extends AsyncIterable<Buffer> {
  close(): Promise<void>;
}

export type RepairServeCall = grpc.ServerWritableStream<RepairRequestWire, SnapshotChunkWire>;

type FetchStub = (
  request: RepairRequestWire,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
) => grpc.ClientReadableStream<SnapshotChunkWire>;

export interface FetchTarget {
  selfId: NodeId;
  to: NodeId;
  groupId: GroupId;
  minIndex: number;
  timeoutMs: number;
  answerProves(answer: grpc.Metadata): boolean;
}

/** Client side: the chunks' data, pulled (gRPC flow control bounds what is buffered). */
export async function* fetchRepairChunks(
  stub: FetchStub,
  metadata: grpc.Metadata,
  t: FetchTarget,
): AsyncGenerator<Buffer> {
  const request = {
    from: t.selfId,
    to: t.to,
    groupId: t.groupId,
    minIndex: t.minIndex,
    protocolVersion: PEER_PROTOCOL_VERSION,
  };
  const call = stub(request, metadata, { deadline: Date.now() + t.timeoutMs });
  let failure: Error | null = null;
  call.on('error', (e: Error) => {
    failure ??= e;
  });
  const answered = new Promise<void>((resolve, reject) => {
    call.once('metadata', (answer: grpc.Metadata) =>
      t.answerProves(answer)
        ? resolve()
        : reject(new TesseraError('UNAVAILABLE', `peer ${t.to} did not prove the cluster id; no repair data read`)),
    );
    call.once('status', (st: grpc.StatusObject) =>
      reject(failure ?? new TesseraError('UNAVAILABLE', `peer ${t.to} ended the call: ${st.details}`)),
    );
  });
  try {
    await answered;
    for await (const chunk of call as AsyncIterable<SnapshotChunkWire>) {
      if (chunk.from !== t.to || chunk.to !== t.selfId)
        throw new TesseraError('UNAVAILABLE', `repair chunk from ${chunk.from} to ${chunk.to} on peer ${t.to}'s call`);
      yield chunk.data;
    }
    if (failure !== null) throw failure;
  } catch (e) {
    throw new TesseraError('UNAVAILABLE', `repair fetch from peer ${t.to} failed: ${(e as Error).message}`);
  } finally {
    call.cancel(); // no-op once the call ended
  }
}

/** Server side: streams `source` to the caller; resolves when the last chunk was written and the call ended. */
export async function serveRepairChunks(
  call: RepairServeCall,
  source: RepairSource,
  self: { selfId: NodeId; peer: NodeId; groupId: GroupId; stallMs: number },
): Promise<void> {
  let gone = false;
  const ended = new Promise<void>((resolve) => {
    const end = (): void => {
      gone = true;
      resolve();
    };
    call.once('cancelled', end);
    call.once('close', end);
    call.once('error', end);
  });
  try {
    for await (const data of source) {
      if (gone) throw new TesseraError('UNAVAILABLE', `peer ${self.peer} left the repair fetch`);
      const chunk: SnapshotChunkWire = {
        from: self.selfId,
        to: self.peer,
        groupId: self.groupId,
        header: Buffer.alloc(0),
        data,
        last: false,
        protocolVersion: PEER_PROTOCOL_VERSION,
      };
      if (!call.write(chunk)) await drained(call, ended, self.stallMs);
    }
    call.end();
  } finally {
    await source.close();
  }
}

async function drained(call: RepairServeCall, ended: Promise<void>, stallMs: number): Promise<void> {
  let onDrain: () => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const drain = new Promise<void>((resolve) => {
    onDrain = resolve;
    call.once('drain', onDrain);
  });
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TesseraError('DEADLINE_EXCEEDED', `no repair data taken for ${stallMs} ms`)),
      stallMs,
    );
  });
  stalled.catch(() => undefined);
  try {
    await Promise.race([
      drain,
      ended.then(() => Promise.reject(new TesseraError('UNAVAILABLE', 'the caller left'))),
      stalled,
    ]);
  } finally {
    clearTimeout(timer);
    call.removeListener('drain', onDrain);
  }
}
