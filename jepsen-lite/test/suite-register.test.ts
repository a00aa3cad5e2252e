// CI suite: register workload under kill and partition for 20 s on a real 3-node cluster must pass
// (exit 0), on a free block of ports. Replay: the command printed by the CLI (seed fixed here).
// Quiet gaps of 2-3 s and faults of 4-6 s fit the three faults this seed plans (a one-way partition, a
// follower killed, the leader killed) into 20 s; the test checks that all three started.
import { expect, it } from 'vitest';
import { finish, runCli } from './suite-run-cli';

it('register + kill,partition for 20 s passes', async () => {
  const run = await runCli(
    [
      ...['--workload', 'register', '--nemesis', 'kill,partition', '--time', '20', '--seed', '101'],
      ...['--quiet', '2,3', '--fault', '4,6'],
    ],
    170_000,
  );
  finish(run, 0);
  expect(run.results?.verdicts).toBeDefined();
  const started = (run.results as unknown as { nemesis?: { type: string; description: string }[] } | null)?.nemesis
    ?.filter((e) => e.type === 'start')
    .map((e) => e.description);
  expect(started).toEqual([expect.stringMatching(/^partition one-way \(cut\)/), 'kill minority', 'kill leader']);
  expect(run.code).toBe(0);
  expect(run.results?.valid).toBe(true);
}, 180_000);
