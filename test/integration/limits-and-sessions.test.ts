/**
 * Real processes (a free port block): request limits answer INVALID_ARGUMENT (and are not retried), and
 * writes retried by the SDK after a dropped reply are applied exactly once by the replicated state
 * machine (the session table), for a CAS and for a counter-like Batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '../../src/base';
import { TestCluster, serverBuilt } from './cluster';

let cluster: TestCluster;

beforeAll(async () => {
  if (!serverBuilt())
    throw new Error('integration tests need the build: run `npx tsc -p tsconfig.build.json` (npm test does)');
  cluster = await TestCluster.start();
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
}, 30_000);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return (e as TesseraError).code;
  }
}

describe('limits', () => {
  it('empty and oversized keys, oversized values get INVALID_ARGUMENT at once', async () => {
    const client = cluster.client({ deadlineMs: 5000 });
    const t0 = Date.now();
    expect(await codeOf(client.put('', 'v'))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.put(Buffer.alloc(4097, 1), 'v'))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.get(''))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.get(Buffer.alloc(4097, 1)))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.put('big', Buffer.alloc(1024 * 1024 + 1)))).toBe('INVALID_ARGUMENT');
    expect(Date.now() - t0).toBeLessThan(3000); // not retried until the deadline
    expect(await codeOf(client.put(Buffer.alloc(4096, 2), 'max key'))).toBe('OK');
    expect((await client.get(Buffer.alloc(4096, 2)))?.toString()).toBe('max key');
  }, 60_000);
});

describe('exactly-once writes', () => {
  it('a CAS whose reply is dropped is retried and applied once', async () => {
    let drops = 0;
    const client = cluster.client({
      deadlineMs: 10_000,
      faultInjection: { dropReply: ({ method }) => method === 'CompareAndSwap' && drops++ === 0 },
    });
    const r = await client.compareAndSwap('owner', null, 'me');
    expect(drops).toBeGreaterThanOrEqual(2); // the first reply was dropped, the retry's reply delivered
    // a retry applied as a new write would fail its compare (the key is no longer absent)
    expect(r).toEqual({ succeeded: true, current: Buffer.from('me') });
    expect((await client.get('owner'))?.toString()).toBe('me');
  }, 60_000);

  it('a counter increment by Batch with its reply dropped twice increments once', async () => {
    let drops = 0;
    const client = cluster.client({
      deadlineMs: 10_000,
      faultInjection: { dropReply: ({ method }) => method === 'Batch' && drops++ < 2 },
    });
    await client.put('counter', '0');
    for (let round = 0; round < 3; round++) {
      const cur = (await client.get('counter'))!.toString();
      const next = String(Number(cur) + 1);
      const r = await client.batch({
        compares: [{ key: 'counter', expected: cur }],
        ops: [
          { op: 'put', key: 'counter', value: next },
          { op: 'get', key: 'counter' },
        ],
      });
      expect(r.succeeded).toBe(true);
      expect(r.results[1]?.toString()).toBe(cur);
    }
    expect((await client.get('counter'))?.toString()).toBe('3');
    expect(drops).toBeGreaterThanOrEqual(4);
  }, 60_000);
});

describe('scan', () => {
  it('pages through a range in key order under item and byte limits', async () => {
    const client = cluster.client({ deadlineMs: 10_000 });
    const keys = Array.from({ length: 120 }, (_, i) => `scan/${String(i).padStart(3, '0')}`);
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < keys.length) {
          const k = keys[next++]!;
          await client.put(k, `v-${k}`);
        }
      }),
    );
    await client.put('scan0', 'outside the range');
    const pages: number[] = [];
    const seen: string[] = [];
    for await (const page of client.scan('scan/', 'scan0', { pageLimit: 50, pageBytesMax: 600 })) {
      pages.push(page.items.length);
      for (const kv of page.items) {
        expect(kv.value.toString()).toBe(`v-${kv.key}`);
        seen.push(kv.key.toString());
      }
    }
    expect(seen).toEqual(keys);
    expect(pages.length).toBeGreaterThan(3); // the byte limit cut pages short of 50 items
    const limited: string[] = [];
    for await (const page of client.scan('scan/', 'scan0', { limit: 7, consistency: 'stale' }))
      limited.push(...page.items.map((kv) => kv.key.toString()));
    expect(limited).toEqual(keys.slice(0, 7));
  }, 60_000);
});
