/**
 * One outgoing InstallSnapshot call (Transport.sendSnapshot): the handshake answer, the chunk loop with
 * flow control, and the final ack, each a named step.
 * Invariants: the call always settles. Its outcome (`done`) is the receiver's ack or status, the timer of
 * `timeoutMs` (which cancels the call), a stall of `stallMs` without 'drain', or abort() (transport
 * close), whichever comes first; every wait of the sender races against it, so a receiver that dies or
 * refuses mid-stream ends the send with UNAVAILABLE, never a hang or an unhandled rejection. Not one
 * chunk is written before the receiver proved the cluster id (handshake.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError, type GroupId, type NodeId } from '../base';
import { PEER_PROTOCOL_VERSION } from './handshake';
import type { SnapshotAckWire, SnapshotChunkWire } from './proto';

export interface SnapshotCallTarget {
  selfId: NodeId;
  to: NodeId;
  groupId: GroupId;
  timeoutMs: number;
  stallMs: number;
  /** Whether the receiver's answer metadata proves the cluster id for this call. */
  answerProves(answer: grpc.Metadata): boolean;
  /** True once the transport closed. */
  closed(): boolean;
}

type InstallSnapshotStub = (
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, ack?: SnapshotAckWire) => void,
) => grpc.ClientWritableStream<SnapshotChunkWire>;

export class SnapshotSendCall {
  private ended = false;
  private finish!: (err: Error | null, ack?: SnapshotAckWire) => void;
  /** The call's outcome: the receiver's ack or status, our timer, or abort (first one wins). */
  private readonly done: Promise<SnapshotAckWire>;
  /** Rejects as soon as the call ends while we still write: every wait of the chunk loop races it. */
  private readonly endedEarly: Promise<never>;
  private readonly call: grpc.ClientWritableStream<SnapshotChunkWire>;
  private readonly timer: NodeJS.Timeout;

  constructor(
    stub: InstallSnapshotStub,
    metadata: grpc.Metadata,
    private readonly t: SnapshotCallTarget,
  ) {
    this.done = new Promise<SnapshotAckWire>((resolve, reject) => {
      this.finish = (err, ack) => {
        this.ended = true;
        if (err) reject(err);
        else resolve(ack as SnapshotAckWire);
      };
    });
    this.done.catch(() => undefined); // observed later; never an unhandled rejection
    this.endedEarly = this.done.then(
      (ack) => {
        throw ack.accepted
          ? new TesseraError('UNAVAILABLE', `peer ${t.to} answered the snapshot before its last chunk`)
          : new TesseraError('UNAVAILABLE', `peer ${t.to} refused the snapshot: ${ack.error}`);
      },
      (e: unknown) => {
        throw this.failed(e);
      },
    );
    this.endedEarly.catch(() => undefined);
    this.call = stub(metadata, { deadline: Date.now() + t.timeoutMs }, (err, ack) => this.finish(err, ack));
    this.call.on('error', () => undefined); // the outcome comes through the callback; an 'error' event must not crash the node
    this.timer = setTimeout(() => this.abort(`timed out after ${t.timeoutMs} ms`), t.timeoutMs);
  }

  /** Ends the call now with UNAVAILABLE `why` (timer, stall, transport close). */
  readonly abort = (why: string): void => {
    this.finish(new TesseraError('UNAVAILABLE', why));
    this.call.cancel();
  };

  /** Streams `header` and `chunks`, then waits for the ack; throws UNAVAILABLE on any failure. */
  async run(header: Buffer, chunks: AsyncIterable<Buffer>): Promise<void> {
    try {
      try {
        await this.answered();
        await this.writeAll(header, chunks);
        this.call.end();
      } catch (e) {
        throw await this.explain(e);
      }
      await this.acknowledged();
    } finally {
      clearTimeout(this.timer);
    }
  }

  private failed(e: unknown): TesseraError {
    return new TesseraError(
      'UNAVAILABLE',
      `snapshot to peer ${this.t.to} failed: ${(e as Error).message}`,
      {},
      { cause: e },
    );
  }

  /** Waits for the receiver's handshake answer (or the call's end before it). */
  private async answered(): Promise<void> {
    const to = this.t.to;
    const answered = new Promise<void>((resolve, reject) => {
      this.call.once('metadata', (answer: grpc.Metadata) => {
        if (this.t.answerProves(answer)) resolve();
        else reject(new TesseraError('UNAVAILABLE', `peer ${to} did not prove the cluster id; no snapshot sent`));
      });
    });
    answered.catch(() => undefined);
    const unanswered = this.done.then(() =>
      Promise.reject(new TesseraError('UNAVAILABLE', `peer ${to} ended the snapshot call before answering`)),
    );
    unanswered.catch(() => undefined);
    await Promise.race([answered, unanswered]);
  }

  /** Writes every chunk, holding one back so that the last one can carry last = true. */
  private async writeAll(header: Buffer, chunks: AsyncIterable<Buffer>): Promise<void> {
    let first = true;
    let pending: Buffer | null = null;
    const write = async (data: Buffer, last: boolean): Promise<void> => {
      if (this.ended) await this.endedEarly;
      const { selfId: from, to, groupId } = this.t;
      const chunk: SnapshotChunkWire = {
        from,
        to,
        groupId,
        header: first ? header : Buffer.alloc(0),
        data,
        last,
        protocolVersion: PEER_PROTOCOL_VERSION,
      };
      first = false;
      if (!this.call.write(chunk)) await this.drained();
    };
    for await (const data of chunks) {
      if (this.t.closed()) throw new TesseraError('UNAVAILABLE', 'transport closed');
      if (pending !== null) await write(pending, false);
      pending = data;
    }
    await write(pending ?? Buffer.alloc(0), true);
  }

  /** Waits for 'drain'; a receiver that stops taking data is abandoned after stallMs. */
  private async drained(): Promise<void> {
    let onDrain: () => void = () => undefined;
    const drain = new Promise<void>((resolve) => {
      onDrain = resolve;
      this.call.once('drain', onDrain);
    });
    const stall = setTimeout(
      () => this.abort(`peer ${this.t.to} took no snapshot data for ${this.t.stallMs} ms`),
      this.t.stallMs,
    );
    try {
      await Promise.race([drain, this.endedEarly]);
    } finally {
      clearTimeout(stall);
      this.call.removeListener('drain', onDrain);
    }
  }

  /**
   * The error to throw for a send that failed: a refusal (the receiver's status) says more than "did not
   * prove"; the CANCELLED status of our own cancel() below says less, so it never replaces it.
   */
  private async explain(e: unknown): Promise<unknown> {
    this.call.cancel();
    const status = await this.done.then(
      () => null,
      (err: unknown) => (err instanceof Error ? err : null),
    );
    const ownCancel = (status as { code?: unknown } | null)?.code === grpc.status.CANCELLED;
    if (status !== null && !ownCancel && e instanceof TesseraError && e.message.includes('did not prove'))
      return this.failed(status);
    return e;
  }

  private async acknowledged(): Promise<void> {
    let ack: SnapshotAckWire;
    try {
      ack = await this.done;
    } catch (e) {
      throw this.failed(e);
    }
    if (!ack.accepted) throw new TesseraError('UNAVAILABLE', `peer ${this.t.to} refused the snapshot: ${ack.error}`);
  }
}
