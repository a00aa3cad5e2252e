// CI suite, proof that jepsen-lite catches bugs: with --unsafe-stale-reads (reads served from the local
// replica without ReadIndex) the register workload under partitions must report a linearizability
// anomaly (exit 1); the same run without the flag must pass (exit 0).
// Why it is reliable in 15 s: in the default 'mixed' client mode half of the workers only read and are
// pinned to one node each, while the other half write the same 4 keys through the leader. The partition
// nemesis is narrowed to shapes that isolate one node (a random one or the leader) for 5-7 s, starting
// 1-2 s into the run: the isolated node's replica stops advancing while the majority elects a leader
// and keeps acknowledging writes, and with the flag the isolated node still answers its pinned readers
// from that replica, so a read returns a value older than an acknowledged write within a second or two.
// (The one-way shape can leave the muted node receiving appends, so it may not produce staleness; the
// default 60-second run with every shape catches it too, this is only to make 15 s certain.)
import { expect, it } from 'vitest';
import { finish, runCli } from './suite-run-cli';

const args = [
  '--workload',
  'register',
  '--nemesis',
  'partition',
  '--partition-shapes',
  'isolate-one,isolate-leader',
  '--keys',
  '4',
  '--quiet',
  '1,2',
  '--fault',
  '5,7',
  '--time',
  '15',
  '--seed',
  '303',
];

it('finds the anomaly of --unsafe-stale-reads', async () => {
  const run = await runCli([...args, '--node-args', '--unsafe-stale-reads'], 110_000);
  finish(run, 1);
  expect(run.code).toBe(1);
  expect(run.results?.valid).toBe(false);
  expect(run.results?.verdicts.find((v) => v.name === 'linearizable')?.valid).toBe(false);
  expect(run.results?.anomalies.length).toBeGreaterThan(0);
}, 120_000);

it('passes the same run without the flag', async () => {
  const run = await runCli(args, 110_000);
  finish(run, 0);
  expect(run.code).toBe(0);
}, 120_000);
