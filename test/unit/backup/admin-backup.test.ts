/**
 * Admin.BackupShard on real in-process nodes (src/server/admin-backup.ts): the shard's leader streams a
 * copy that holds every key at the announced applied index; a follower answers NOT_LEADER with the
 * leader's address, an unknown shard NOT_FOUND, a bad id INVALID_ARGUMENT; a client that stops reading
 * gets only what the flow-control windows hold (the node stops producing chunks) and its stream is reset
 * after the request timeout, counted as a stalled stream, after which the node serves backups again; a
 * third concurrent backup stream is RESOURCE_EXHAUSTED.
 * takeBackup over the same cluster writes a file that verifies and holds every key, also when a shard
 * splits in the middle of the backup.
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanBackup, takeBackup, verifyBackup } from '../../../src/backup';
import { Client, loadServices } from '../../../src/client';
import { decodeChunk } from '../../../src/kv';
import { NodeCluster } from '../server/node-cluster';

const KEYS = 240;
const VALUE_BYTES = 20 * 1024;
const CHUNK_BYTES = 64 * 1024;

let cluster: NodeCluster;
let client: Client;

interface Msg {
  shardId: number;
  applied: number;
  readIndex: number;
  chunk: Buffer;
}

function admin(port: number): grpc.Client & {
  backupShard(req: unknown, md: grpc.Metadata, opts: grpc.CallOptions): grpc.ClientReadableStream<Msg>;
} {
  const { Admin } = loadServices();
  return new Admin(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as never;
}

/** Reads a whole stream; resolves with its messages or rejects with its status. */
function drain(call: grpc.ClientReadableStream<Msg>): Promise<Msg[]> {
  return new Promise((resolve, reject) => {
    const out: Msg[] = [];
    call.on('data', (m: Msg) => out.push(m));
    call.on('error', reject);
    call.on('end', () => resolve(out));
  });
}

/** Retries fn (bounded: 40 tries, 50 ms apart) until it resolves true. */
async function eventually(fn: () => Promise<boolean>): Promise<void> {
  let last: unknown = null;
  for (let i = 0; i < 40; i++) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not true in time: ${String(last)}`);
}

beforeAll(async () => {
  cluster = await NodeCluster.start(3, ['--request-timeout-ms', '1500']);
  await cluster.waitForLeader();
  client = new Client({ endpoints: cluster.endpoints(), deadlineMs: 10_000 });
  const value = Buffer.alloc(VALUE_BYTES, 7);
  for (let i = 0; i < KEYS; i += 40)
    await Promise.all(Array.from({ length: 40 }, (_, j) => client.put(`k/${String(i + j).padStart(5, '0')}`, value)));
}, 60_000);

afterAll(async () => {
  await client?.close();
  await cluster?.close();
}, 30_000);

describe('Admin.BackupShard', () => {
  it('streams the whole shard from its leader at one applied index', async () => {
    const leader = cluster.leaderId();
    const c = admin(cluster.ports.get(leader)!);
    try {
      const msgs = await drain(c.backupShard({ shardId: 1, chunkBytes: CHUNK_BYTES }, new grpc.Metadata(), {}));
      expect(msgs[0]!.shardId).toBe(1);
      expect(msgs[0]!.applied).toBeGreaterThanOrEqual(msgs[0]!.readIndex);
      const chunks = msgs.map((m) => decodeChunk(m.chunk));
      expect(chunks.every((ch, i) => ch.seq === i && ch.applied === msgs[0]!.applied)).toBe(true);
      expect(chunks.at(-1)!.done).toBe(true);
      const keys = chunks.flatMap((ch) => ch.items.filter((it) => it.kind === 0).map((it) => it.key.toString()));
      expect(keys).toHaveLength(KEYS);
      expect(chunks.length).toBeGreaterThan(KEYS / (CHUNK_BYTES / VALUE_BYTES) - 2); // bounded chunks
    } finally {
      c.close();
    }
  });

  it('refuses a follower (NOT_LEADER with the leader), an unknown shard and a bad id', async () => {
    const leader = cluster.leaderId();
    const follower = [...cluster.ports.keys()].find((id) => id !== leader)!;
    const c = admin(cluster.ports.get(follower)!);
    try {
      const err = (await drain(c.backupShard({ shardId: 1 }, new grpc.Metadata(), {})).catch(
        (e) => e,
      )) as grpc.ServiceError;
      expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(err.metadata.get('tessera-reason')[0]).toBe('NOT_LEADER');
      expect(err.metadata.get('tessera-leader-address')[0]).toBe(`127.0.0.1:${cluster.ports.get(leader)}`);
      const unknown = (await drain(c.backupShard({ shardId: 77 }, new grpc.Metadata(), {})).catch(
        (e) => e,
      )) as grpc.ServiceError;
      expect(unknown.code).toBe(grpc.status.NOT_FOUND);
      const bad = (await drain(c.backupShard({ shardId: 0 }, new grpc.Metadata(), {})).catch(
        (e) => e,
      )) as grpc.ServiceError;
      expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    } finally {
      c.close();
    }
  });

  it('a client that stops reading holds what the windows hold, then its stream is reset', async () => {
    const leader = cluster.leaderId();
    const node = cluster.nodes.get(leader)!;
    const c = admin(cluster.ports.get(leader)!);
    try {
      const call = c.backupShard({ shardId: 1, chunkBytes: CHUNK_BYTES }, new grpc.Metadata(), {});
      let received = 0;
      const ended = new Promise<grpc.ServiceError | null>((resolve) => {
        call.on('error', (e: grpc.ServiceError) => resolve(e));
        call.on('end', () => resolve(null));
      });
      call.on('data', () => {
        received++;
        if (received === 1) call.pause(); // stops reading: HTTP/2 flow control stops the node
      });
      await new Promise((r) => setTimeout(r, 2500)); // past the 1500 ms request timeout
      call.resume();
      const err = await ended;
      expect(err, 'the stream completed although the client did not read').not.toBeNull();
      const total = Math.ceil((KEYS * VALUE_BYTES) / CHUNK_BYTES);
      console.log(`paused client: ${received} of ${total} chunks delivered`);
      expect(received).toBeLessThan(total / 2);
      const refused = await node.metrics.overloadRefused.get();
      expect(refused.values.find((v) => v.labels.reason === 'stalled-stream')?.value).toBeGreaterThanOrEqual(1);
      // The node serves backups again (the stalled one released its slot and its snapshot).
      const again = await drain(c.backupShard({ shardId: 1, chunkBytes: CHUNK_BYTES }, new grpc.Metadata(), {}));
      expect(decodeChunk(again.at(-1)!.chunk).done).toBe(true);
    } finally {
      c.close();
    }
  });

  it('runs at most 2 backup streams on a node: a third is RESOURCE_EXHAUSTED', async () => {
    const leader = cluster.leaderId();
    const c = admin(cluster.ports.get(leader)!);
    const open: grpc.ClientReadableStream<Msg>[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const call = c.backupShard({ shardId: 1, chunkBytes: CHUNK_BYTES }, new grpc.Metadata(), {});
        call.on('error', () => undefined);
        await new Promise<void>((resolve) =>
          call.once('data', () => {
            call.pause();
            resolve();
          }),
        );
        open.push(call);
      }
      const third = (await drain(c.backupShard({ shardId: 1 }, new grpc.Metadata(), {})).catch(
        (e) => e,
      )) as grpc.ServiceError;
      expect(third.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    } finally {
      for (const call of open) call.cancel();
      c.close();
    }
    // Cancelled streams free their slots.
    const again = admin(cluster.ports.get(leader)!);
    try {
      await eventually(async () => {
        const msgs = await drain(again.backupShard({ shardId: 1, chunkBytes: CHUNK_BYTES }, new grpc.Metadata(), {}));
        return decodeChunk(msgs.at(-1)!.chunk).done;
      });
    } finally {
      again.close();
    }
  });

  it('takeBackup writes a file that verifies and holds every key', async () => {
    {
      const out = join(cluster.root, 'unit.tbak');
      const summary = await takeBackup({ client, out, chunkBytes: CHUNK_BYTES });
      expect(summary.shards).toHaveLength(1);
      const v = await verifyBackup(out);
      expect(v.header.clusterId).toMatch(/^[0-9a-f]{32}$/);
      let keys = 0;
      await scanBackup(out, v.header, async (_s, ch) => {
        keys += ch.items.filter((it) => it.kind === 0).length;
      });
      expect(keys).toBe(KEYS);
    }
  });

  it('takeBackup copies every key once when a shard splits during the backup', async () => {
    await client.splitShard('k/00080');
    const out = join(cluster.root, 'split.tbak');
    let splits = 0;
    const summary = await takeBackup({
      client,
      out,
      chunkBytes: CHUNK_BYTES,
      retryDelayMs: 50,
      // After the first shard: the next one splits before it is copied (the backup's listing is stale).
      onShard: async () => {
        if (splits++ === 0) await client.splitShard('k/00160');
      },
    });
    expect(summary.shards.map((s) => s.start.toString())).toEqual(['', 'k/00080', 'k/00160']);
    const v = await verifyBackup(out);
    const keys: string[] = [];
    await scanBackup(out, v.header, async (_s, ch) => {
      for (const it of ch.items) if (it.kind === 0) keys.push(it.key.toString());
    });
    expect(keys).toEqual(Array.from({ length: KEYS }, (_, i) => `k/${String(i).padStart(5, '0')}`));
  });
});
