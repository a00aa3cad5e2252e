/**
 * NodeHost's peer door (issue 8 section 1): messages from an authenticated peer that is not a member of
 * the message's group are dropped (counted, logged once per sender); a 'snapshot' message on the message
 * stream is dropped (it used to make the node fatal); onSnapshot refuses a non-member. One real NodeHost
 * on a real store, driven through a fake transport that records what the host sends.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Random, type NodeId } from '../../../src/base';
import { encodeRaftMessage } from '../../../src/codec';
import { loadNodeConfig } from '../../../src/config';
import { NodeHost } from '../../../src/node';
import { createNodeMetrics, type Logger, type NodeMetrics } from '../../../src/obs';
import type { Message } from '../../../src/raft';
import { NodeStore } from '../../../src/storage';
import type { Transport, TransportHandler } from '../../../src/transport';

/** Records what the host sends; the test delivers inbound messages through `handler` as the transport would. */
class FakeTransport {
  handler: TransportHandler | null = null;
  readonly sent: { to: NodeId; message: Buffer }[] = [];
  readonly peers = new Map<NodeId, string>();
  setHandler(h: TransportHandler): void {
    this.handler = h;
  }
  setPeer(id: NodeId, address: string): void {
    this.peers.set(id, address);
  }
  removePeer(id: NodeId): void {
    this.peers.delete(id);
  }
  peerAddress(id: NodeId): string | null {
    return this.peers.get(id) ?? null;
  }
  send(to: NodeId, message: Buffer): boolean {
    this.sent.push({ to, message });
    return true;
  }
  flush(): void {}
  queuedMessages(): number {
    return 0;
  }
  sendSnapshot(): Promise<void> {
    return Promise.reject(new Error('not in this test'));
  }
}

interface Warned {
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function recordingLogger(warned: Warned[]): Logger {
  const noop = (): void => undefined;
  const l: Logger = {
    fatal: noop,
    error: noop,
    warn: (obj, msg) => void warned.push({ obj: obj as Record<string, unknown>, msg }),
    info: noop,
    debug: noop,
    child: () => l,
  };
  return l;
}

interface Harness {
  host: NodeHost;
  transport: FakeTransport;
  metrics: NodeMetrics;
  warned: Warned[];
  fatal: unknown[];
  close(): Promise<void>;
}

let open: Harness | null = null;
afterEach(async () => {
  await open?.close();
  open = null;
});

/** Node 1 of peers 1, 2, 3 (or a --join node with an empty configuration); long election timeout, so it stays a follower. */
async function start(join_ = false): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-peer-filter-'));
  const peers = ['--peers', '1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103'];
  const membership = join_ ? ['--join', ...peers] : peers;
  const config = loadNodeConfig({
    argv: [
      '--id',
      '1',
      '--listen',
      '127.0.0.1:7101',
      ...membership,
      '--data-dir',
      dir,
      '--election-ms',
      '60000',
      '--heartbeat-ms',
      '1000',
    ],
    env: {},
  });
  const store = await NodeStore.open(dir);
  const transport = new FakeTransport();
  const metrics = createNodeMetrics();
  const warned: Warned[] = [];
  const fatal: unknown[] = [];
  const host = await NodeHost.open({
    config,
    store,
    transport: transport as unknown as Transport,
    logger: recordingLogger(warned),
    metrics,
    random: new Random(1),
    onFatal: (e) => fatal.push(e),
  });
  const h: Harness = {
    host,
    transport,
    metrics,
    warned,
    fatal,
    close: async () => {
      await host.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  open = h;
  return h;
}

const heartbeat = (from: NodeId, term: number): Message => ({
  type: 'heartbeat',
  from,
  to: 1,
  term,
  commit: 0,
  context: 0,
});
const wire = (m: Message): Buffer => encodeRaftMessage({ groupId: 1, message: m });
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

async function rejected(metrics: NodeMetrics, reason: string): Promise<number> {
  const m = await metrics.peerRejected.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe('NodeHost peer door: group membership of the sender', () => {
  it('drops heartbeats from a node that is not a member (a fake leader 99) in the term of the leader it follows, counts them and logs once per sender', async () => {
    const h = await start();
    // A member's heartbeat is stepped (the control): node 1 follows leader 2 in term 7.
    h.transport.handler!.onMessages(2, [wire(heartbeat(2, 7))]);
    await settle();
    expect(h.host.groupStatus(1)).toMatchObject({ leader: 2, term: 7 });
    const sentBefore = h.transport.sent.length;

    for (let i = 0; i < 5; i++) h.transport.handler!.onMessages(99, [wire(heartbeat(99, 7)), wire(heartbeat(99, 6))]);
    await settle();
    const st = h.host.groupStatus(1);
    expect(st.leader).toBe(2); // without the filter: 99
    expect(st.term).toBe(7);
    expect(await rejected(h.metrics, 'not_member')).toBe(10);
    expect(h.warned.filter((w) => w.obj.from === 99 && w.obj.reason === 'not_member')).toHaveLength(1);
    // Nothing was answered to the non-member.
    expect(h.transport.sent.slice(sentBefore).filter((s) => s.to === 99)).toEqual([]);
    expect(h.fatal).toEqual([]);
  });

  it('follows a leader it does not know as a member when its heartbeat proves a newer term (our configuration may be behind)', async () => {
    const h = await start();
    h.transport.handler!.onMessages(2, [wire(heartbeat(2, 7))]);
    await settle();
    // Node 4 was added while we were away and then won term 8: a strict filter would refuse it forever.
    h.transport.handler!.onMessages(4, [wire(heartbeat(4, 8))]);
    await settle();
    expect(h.host.groupStatus(1)).toMatchObject({ leader: 4, term: 8 });
    // ...and keeps following it within that term.
    h.transport.handler!.onMessages(4, [wire(heartbeat(4, 8))]);
    await settle();
    expect(await rejected(h.metrics, 'not_member')).toBe(0);
    expect(h.transport.sent.some((s) => s.to === 4)).toBe(true);
  });

  it('drops undecodable and invariant-breaking messages from a member: counted by reason, logged once, never fatal', async () => {
    const h = await start();
    const gap: Message = {
      type: 'append',
      from: 2,
      to: 1,
      term: 3,
      prevLogIndex: 0,
      prevLogTerm: 0,
      entries: [{ index: 5, term: 3, kind: 'empty' }],
      commit: 0,
    };
    for (let i = 0; i < 3; i++) h.transport.handler!.onMessages(2, [Buffer.from('not msgpack at all \xff'), wire(gap)]);
    await settle();
    expect(h.fatal).toEqual([]);
    expect(await rejected(h.metrics, 'malformed')).toBe(3);
    expect(await rejected(h.metrics, 'invalid_message')).toBe(3);
    expect(h.warned.filter((w) => w.obj.from === 2 && w.obj.reason === 'malformed')).toHaveLength(1);
    expect(h.warned.filter((w) => w.obj.from === 2 && w.obj.reason === 'invalid_message')).toHaveLength(1);
    expect(h.host.groupStatus(1)).toMatchObject({ term: 0, lastIndex: 0 });
    // A member's batch carrying a message from another node, or for a group this node does not host.
    h.transport.handler!.onMessages(2, [
      wire(heartbeat(3, 4)),
      encodeRaftMessage({ groupId: 77, message: heartbeat(2, 4) }),
    ]);
    await settle();
    expect(await rejected(h.metrics, 'spoofed_message_from')).toBe(1);
    expect(await rejected(h.metrics, 'unknown_group')).toBe(1);
    expect(h.host.groupStatus(1)).toMatchObject({ term: 0, leader: 0 });
  });

  it('drops a TimeoutNow and votes from a non-member', async () => {
    const h = await start();
    h.transport.handler!.onMessages(42, [
      wire({ type: 'timeoutNow', from: 42, to: 1, term: 3 }),
      wire({ type: 'vote', from: 42, to: 1, term: 9, lastLogIndex: 1000, lastLogTerm: 8, transfer: false }),
    ]);
    await settle();
    const st = h.host.groupStatus(1);
    expect(st.term).toBe(0); // a stepped TimeoutNow starts an election; a stepped vote raises the term
    expect(st.role).toBe('follower');
    expect(await rejected(h.metrics, 'not_member')).toBe(2);
  });

  it('drops a snapshot message that arrives on the message stream, even from a member, and stays alive', async () => {
    const h = await start();
    const forged: Message = {
      type: 'snapshot',
      from: 2,
      to: 1,
      term: 9,
      snapshot: {
        meta: { index: 100, term: 9, config: { voters: [2], learners: [], votersOutgoing: [] } },
        data: new Uint8Array(0),
      },
    };
    h.transport.handler!.onMessages(2, [wire(forged)]);
    await settle();
    expect(h.fatal).toEqual([]); // it used to be an InvariantError: the core handed out a snapshot that was not staged
    expect(h.host.groupStatus(1)).toMatchObject({ term: 0, commit: 0 });
    expect(await rejected(h.metrics, 'snapshot_on_stream')).toBe(1);
    // The node still works: a member's heartbeat is taken.
    h.transport.handler!.onMessages(3, [wire(heartbeat(3, 2))]);
    await settle();
    expect(h.host.groupStatus(1).leader).toBe(3);
  });

  it('refuses an InstallSnapshot from a non-member in the term of the leader it follows, before staging anything', async () => {
    const h = await start();
    h.transport.handler!.onMessages(2, [wire(heartbeat(2, 9))]);
    await settle();
    const header = wire({
      type: 'snapshot',
      from: 99,
      to: 1,
      term: 9,
      snapshot: {
        meta: { index: 100, term: 9, config: { voters: [99], learners: [], votersOutgoing: [] } },
        data: new Uint8Array(0),
      },
    });
    let pulled = 0;
    async function* chunks(): AsyncGenerator<Buffer> {
      pulled++;
      yield Buffer.alloc(0);
    }
    await expect(h.transport.handler!.onSnapshot({ from: 99, groupId: 1, header, chunks: chunks() })).rejects.toThrow(
      /not a member/,
    );
    expect(pulled).toBe(0);
    expect(await rejected(h.metrics, 'snapshot_not_member')).toBe(1);
    expect(h.host.groupStatus(1)).toMatchObject({ term: 9, leader: 2 });
  });

  it('a node started with --join (empty configuration) accepts any authenticated peer until it is added', async () => {
    const h = await start(true);
    h.transport.handler!.onMessages(7, [wire(heartbeat(7, 4))]);
    await settle();
    expect(h.host.groupStatus(1)).toMatchObject({ leader: 7, term: 4 });
    expect(await rejected(h.metrics, 'not_member')).toBe(0);
  });
});
