/**
 * Issue 9 §4, real processes: a client that opens a KV.Pipeline stream to the leader, sends thousands of
 * gets of large values and never reads a response (overload-never-reading.ts). Before the fix the leader
 * read every request and queued every response (it grew to 3 GB, and bystanders failed); now it stops
 * reading the stream once its responses are not drained and refuses what passes the stream's and the
 * node's budgets, so its RSS stays under the memory budget, the leadership holds, a bystander keeps working.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { TestCluster, serverBuilt } from './cluster';
import { neverReadingClient } from './overload-never-reading';

const BUDGET_MIB = 256;

let cluster: TestCluster;

beforeAll(async () => {
  if (!serverBuilt())
    throw new Error('integration tests need the build: run `npx tsc -p tsconfig.build.json` (npm test does)');
  cluster = await TestCluster.start({ nodeArgs: ['--memory-budget-mib', String(BUDGET_MIB)], logLevel: 'warn' });
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
}, 30_000);

describe('a Pipeline client that never reads', () => {
  it('leaves the leader within its memory budget, in office, and serving a bystander', async () => {
    await neverReadingClient(cluster, 'pipeline', BUDGET_MIB);
  }, 60_000);
});
