// CI suite: set workload under pause (SIGSTOP/SIGCONT) for 30 s on a real 3-node cluster must pass
// (exit 0): no acknowledged add lost, nothing unexpected.
import { expect, it } from 'vitest';
import { finish, runCli } from './suite-run-cli';

it('set + pause for 30 s passes', async () => {
  const run = await runCli(['--workload', 'set', '--nemesis', 'pause', '--time', '30', '--seed', '202'], 170_000);
  finish(run, 0);
  expect(run.code).toBe(0);
  expect(run.results?.valid).toBe(true);
}, 180_000);
