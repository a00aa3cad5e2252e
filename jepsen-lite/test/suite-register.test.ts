// CI suite: register workload under kill and partition for 30 s on a real 3-node cluster must pass
// (exit 0), on a free block of ports. Replay: the command printed by the CLI (seed fixed here).
import { expect, it } from 'vitest';
import { finish, runCli } from './suite-run-cli';

it('register + kill,partition for 30 s passes', async () => {
  const run = await runCli(
    ['--workload', 'register', '--nemesis', 'kill,partition', '--time', '30', '--seed', '101'],
    170_000,
  );
  finish(run, 0);
  expect(run.results?.verdicts).toBeDefined();
  expect(run.code).toBe(0);
  expect(run.results?.valid).toBe(true);
}, 180_000);
