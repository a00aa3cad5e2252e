/**
 * Storage benchmark (not a test): NodeStore.persist throughput (group commit, sync: true) for several
 * batch shapes, and StateMachine.apply throughput. Prints one JSON line per case.
 *   npx tsx scripts/bench-storage.ts [--seconds 2]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCommand } from '../src/codec';
import { StateMachine } from '../src/kv';
import type { Entry } from '../src/raft';
import { NodeStore } from '../src/storage';
import type { GroupWrite } from '../src/storage';

const secondsArg = process.argv.indexOf('--seconds');
const seconds = secondsArg >= 0 ? Number(process.argv[secondsArg + 1]) : 2;
const valueBytes = 256;

function command(i: number): Uint8Array {
  return encodeCommand({
    type: 'put',
    key: Buffer.from(`key-${i % 100_000}`),
    value: Buffer.alloc(valueBytes, i & 0xff),
    session: { clientId: 'ab'.repeat(16), seq: i + 1 },
  });
}

async function benchPersist(groups: number, entriesPerGroup: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-'));
  const store = await NodeStore.open(dir);
  const next = new Array<number>(groups + 1).fill(1);
  let batches = 0;
  let entries = 0;
  let bytes = 0;
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  try {
    while (performance.now() < deadline) {
      const writes: GroupWrite[] = [];
      for (let g = 1; g <= groups; g++) {
        const es: Entry[] = [];
        for (let k = 0; k < entriesPerGroup; k++) {
          const index = next[g] as number;
          next[g] = index + 1;
          const data = command(index);
          bytes += data.length;
          es.push({ kind: 'normal', term: 1, index, data });
        }
        writes.push({ groupId: g, hardState: { term: 1, vote: 1, commit: (next[g] as number) - 1 }, entries: es, snapshot: null });
      }
      const t0 = performance.now();
      await store.persist(writes);
      latencies.push(performance.now() - t0);
      batches++;
      entries += groups * entriesPerGroup;
    }
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
  latencies.sort((a, b) => a - b);
  const elapsed = seconds;
  console.log(
    JSON.stringify({
      case: 'persist',
      groups,
      entriesPerGroup,
      batchesPerSec: Math.round(batches / elapsed),
      entriesPerSec: Math.round(entries / elapsed),
      mibPerSec: +(bytes / elapsed / 1048576).toFixed(2),
      p50Ms: +(latencies[Math.floor(latencies.length * 0.5)] ?? 0).toFixed(3),
      p99Ms: +(latencies[Math.floor(latencies.length * 0.99)] ?? 0).toFixed(3),
    }),
  );
}

async function benchApply(entriesPerCall: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-'));
  const store = await NodeStore.open(dir);
  const sm = await StateMachine.open(store, 1, { start: Buffer.alloc(0), end: null }, { sessionsMax: 10_000 });
  let index = 0;
  const deadline = performance.now() + seconds * 1000;
  try {
    while (performance.now() < deadline) {
      const es: Entry[] = [];
      for (let k = 0; k < entriesPerCall; k++) {
        index++;
        es.push({ kind: 'normal', term: 1, index, data: command(index) });
      }
      await sm.apply(es);
    }
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ case: 'apply', entriesPerCall, entriesPerSec: Math.round(index / seconds) }));
}

async function main(): Promise<void> {
  for (const [groups, per] of [
    [1, 1],
    [1, 16],
    [1, 128],
    [8, 16],
    [64, 4],
  ] as const) {
    await benchPersist(groups, per);
  }
  for (const per of [1, 64]) await benchApply(per);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
