// CI suite: set workload under pause (SIGSTOP/SIGCONT) for 20 s on a real 3-node cluster must pass
// (exit 0): no acknowledged add lost, nothing unexpected. Quiet gaps of 2-3 s and pauses of 4-6 s fit
// the three pauses this seed plans (one node, a majority, the leader) into 20 s; the test checks them.
import { expect, it } from 'vitest';
import { finish, runCli } from './suite-run-cli';

it('set + pause for 20 s passes', async () => {
  const run = await runCli(
    [
      ...['--workload', 'set', '--nemesis', 'pause', '--time', '20', '--seed', '202'],
      ...['--quiet', '2,3', '--fault', '4,6'],
    ],
    170_000,
  );
  finish(run, 0);
  const started = (run.results as unknown as { nemesis?: { type: string; description: string }[] } | null)?.nemesis
    ?.filter((e) => e.type === 'start')
    .map((e) => e.description);
  expect(started).toEqual(['pause one', 'pause majority', 'pause leader']);
  expect(run.code).toBe(0);
  expect(run.results?.valid).toBe(true);
}, 180_000);
