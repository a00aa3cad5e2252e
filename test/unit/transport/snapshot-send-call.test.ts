/**
 * SnapshotSendCall's error on a receiver that does not prove the cluster id, with a scripted gRPC call (no
 * sockets), so both orders of the race that peer-door.test.ts meets by chance run every time: our own
 * cancel() ends the call (the message must still say "did not prove"), or the receiver's status arrives
 * first (its refusal says more, so it wins).
 */
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { GroupId, NodeId } from '../../../src/base';
import type { SnapshotAckWire, SnapshotChunkWire } from '../../../src/transport';
import { SnapshotSendCall } from '../../../src/transport/snapshot-send-call';

type Callback = (err: grpc.ServiceError | null, ack?: SnapshotAckWire) => void;

/** A client call that answers with unproven metadata; cancel() ends it with CANCELLED, as grpc-js does. */
class ScriptedCall extends EventEmitter {
  writes = 0;
  constructor(private readonly cb: Callback) {
    super();
  }
  write(): boolean {
    this.writes++;
    return true;
  }
  end(): void {}
  cancel(): void {
    setImmediate(() => this.status(grpc.status.CANCELLED, 'Cancelled on client'));
  }
  private settled = false;
  status(code: grpc.status, details: string): void {
    if (this.settled) return;
    this.settled = true;
    const err = Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), {
      code,
      details,
      metadata: new grpc.Metadata(),
    });
    this.cb(err);
  }
}

function start(script: (call: ScriptedCall) => void): { run: Promise<void>; call: () => ScriptedCall } {
  let call: ScriptedCall | null = null;
  const stub = (_md: grpc.Metadata, _opts: grpc.CallOptions, cb: Callback) => {
    call = new ScriptedCall(cb);
    const c = call;
    setImmediate(() => script(c));
    return c as unknown as grpc.ClientWritableStream<SnapshotChunkWire>;
  };
  const send = new SnapshotSendCall(stub, new grpc.Metadata(), {
    selfId: 1 as NodeId,
    to: 99 as NodeId,
    groupId: 1 as GroupId,
    timeoutMs: 5_000,
    stallMs: 5_000,
    answerProves: () => false,
    closed: () => false,
  });
  async function* chunks() {
    yield Buffer.from('the whole state machine');
  }
  return { run: send.run(Buffer.from('hdr'), chunks()), call: () => call! };
}

describe('SnapshotSendCall: a receiver that does not prove the cluster id', () => {
  it('fails with "did not prove" when our own cancel ends the call, and writes no chunk', async () => {
    const s = start((call) => call.emit('metadata', new grpc.Metadata()));
    await expect(s.run).rejects.toThrow(/did not prove the cluster id; no snapshot sent/);
    expect(s.call().writes).toBe(0);
  });

  it("reports the receiver's own status when it arrived before our cancel", async () => {
    const s = start((call) => {
      call.emit('metadata', new grpc.Metadata());
      call.status(grpc.status.PERMISSION_DENIED, 'refused at the door: wrong cluster');
    });
    await expect(s.run).rejects.toThrow(/snapshot to peer 99 failed: 7 PERMISSION_DENIED: refused at the door/);
    expect(s.call().writes).toBe(0);
  });
});
