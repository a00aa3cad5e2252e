/**
 * Issue 9 §4, real processes: clients that stop reading their responses lose their streams within a bound,
 * and the node gets back what they held (stream-reset.ts):
 * - a KV.Pipeline stream (raw HTTP/2, grpc-timeout 2 s) that never reads is reset at its deadline plus
 *   the grace (before: the node stopped reading it, but its status waited behind the unread data for good);
 * - one without a deadline is reset once its responses have not drained for the request timeout (3 s here);
 * - thousands of unary KV.Get of 512 KiB values on raw HTTP/2 streams never read keep the leader under its
 *   memory budget (before: 279-329 MiB with budgets of 256-384 MiB), its stalled streams are reset, and
 *   the node's bytes in flight fall back to about nothing while the attacker is still connected.
 * A bystander keeps working throughout; the leadership holds.
 */
import * as http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServices } from '../../src/client/proto';
import { TestCluster, serverBuilt } from './cluster';
import { metricSample, neverReadingClient } from './overload-never-reading';

const BUDGET_MIB = 256;
const REQUEST_TIMEOUT_MS = 3000;
const VALUE_BYTES = 512 * 1024;

let cluster: TestCluster;

beforeAll(async () => {
  if (!serverBuilt())
    throw new Error('integration tests need the build: run `npx tsc -p tsconfig.build.json` (npm test does)');
  cluster = await TestCluster.start({
    nodeArgs: ['--memory-budget-mib', String(BUDGET_MIB), '--request-timeout-ms', String(REQUEST_TIMEOUT_MS)],
    logLevel: 'warn',
  });
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
}, 30_000);

function pipelineFrame(ops: unknown[]): Buffer {
  const { packageDefinition } = loadServices();
  const kv = packageDefinition['tessera.v1.KV'] as unknown as Record<string, grpc.MethodDefinition<unknown, unknown>>;
  const body = kv.Pipeline!.requestSerialize({ ops });
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  return frame;
}

/**
 * A raw HTTP/2 Pipeline stream that sends `gets` gets of the big keys and never reads: resolves when the
 * node ends it (how, and after how long), or 'open' after waitMs.
 */
async function neverReadingPipeline(address: string, gets: number, waitMs: number, grpcTimeout?: string) {
  const session = http2.connect(`http://${address}`);
  session.on('error', () => undefined);
  const t0 = Date.now();
  const stream = session.request({
    ':method': 'POST',
    ':path': '/tessera.v1.KV/Pipeline',
    'content-type': 'application/grpc',
    te: 'trailers',
    ...(grpcTimeout === undefined ? {} : { 'grpc-timeout': grpcTimeout }),
  });
  stream.on('error', () => undefined);
  stream.pause(); // never reads
  const ended = new Promise<{ rstCode: number | undefined; afterMs: number }>((resolve) =>
    stream.on('close', () => resolve({ rstCode: stream.rstCode, afterMs: Date.now() - t0 })),
  );
  for (let i = 0; i < gets; i++) {
    const frame = pipelineFrame([{ id: i + 1, timeoutMs: 0, get: { key: Buffer.from(`big/${i % 8}`) } }]);
    if (!stream.write(frame)) break; // the node stopped reading: flow control
  }
  const end = await Promise.race([ended, new Promise<'open'>((r) => setTimeout(() => r('open'), waitMs))]);
  session.destroy();
  return end;
}

describe('clients that never read their responses', () => {
  it('a Pipeline stream is reset at its deadline, or after the request timeout undrained; the node releases it', async () => {
    const { leader } = await cluster.waitForLeader();
    const client = cluster.client();
    for (let k = 0; k < 8; k++) await client.put(`big/${k}`, Buffer.alloc(VALUE_BYTES, k));
    const http = cluster.httpPort(leader);

    const atDeadline = await neverReadingPipeline(cluster.address(leader), 400, 8000, '2S');
    console.log('never-reading Pipeline, grpc-timeout 2 s:', atDeadline);
    expect(atDeadline).not.toBe('open');
    if (atDeadline === 'open') return;
    expect(atDeadline.rstCode).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(atDeadline.afterMs).toBeGreaterThanOrEqual(1900);
    expect(atDeadline.afterMs).toBeLessThan(6000);

    const stalled = await neverReadingPipeline(cluster.address(leader), 400, REQUEST_TIMEOUT_MS + 5000);
    console.log(`never-reading Pipeline, no deadline (request timeout ${REQUEST_TIMEOUT_MS} ms):`, stalled);
    expect(stalled).not.toBe('open');
    if (stalled === 'open') return;
    expect(stalled.rstCode).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(stalled.afterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);

    const reasons = ['deadline-stream', 'stalled-stream'];
    const resets = await Promise.all(
      reasons.map((r) => metricSample(http, 'tessera_overload_refused_total', `{reason="${r}"}`)),
    );
    expect(resets.every((n) => n >= 1)).toBe(true);
    expect(await metricSample(http, 'tessera_inflight_bytes')).toBeLessThan(2 ** 20);
    expect((await client.get('big/1'))?.length).toBe(VALUE_BYTES); // others fine
  }, 40_000);

  it('unary gets never read: the leader stays in budget and its stalled streams are reset', async () => {
    let whileAttacking = { stalledResets: 0, inflightBytes: NaN };
    await neverReadingClient(cluster, 'unary', BUDGET_MIB, async (leader) => {
      // The attacker still connected and still not reading, past the stall bound: its streams were reset.
      await new Promise((r) => setTimeout(r, REQUEST_TIMEOUT_MS + 2000));
      const http = cluster.httpPort(leader);
      whileAttacking = {
        stalledResets: await metricSample(http, 'tessera_overload_refused_total', '{reason="stalled-stream"}'),
        inflightBytes: await metricSample(http, 'tessera_inflight_bytes'),
      };
    });
    console.log('unary attacker, after the stall bound:', whileAttacking);
    expect(whileAttacking.stalledResets).toBeGreaterThan(0);
    expect(whileAttacking.inflightBytes).toBeLessThan(4 * 2 ** 20);
  }, 60_000);
});
