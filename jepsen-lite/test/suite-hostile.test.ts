// CI suite: the register workload while the hostile nemesis fires forged peer messages, malformed input,
// session abuse and quorum-breaking Admin calls at a real 3-node cluster for 30 s (every attack fires at
// least once; the test checks it). Passes (exit 0) when
// the history is linearizable, no node exited, a leader is back after the run with every final read
// answered, and the hostile checks hold (sentinel intact on every node, nothing planted readable, no call
// reached the attacker). Replay: the command printed by the CLI (seed fixed here).
import { expect, it } from 'vitest';
import { attackNames } from '../hostile/catalogue';
import { finish, runCli } from './suite-run-cli';

it('register + hostile for 30 s passes', async () => {
  const run = await runCli(
    ['--workload', 'register', '--nemesis', 'hostile', '--time', '30', '--seed', '808'],
    170_000,
  );
  finish(run, 0);
  const verdicts = Object.fromEntries(
    (run.results?.verdicts ?? []).map((v) => [v.name, `${String(v.valid)}: ${v.summary}`]),
  );
  expect(verdicts).toEqual({
    linearizable: expect.stringMatching(/^true/),
    crashes: expect.stringMatching(/^true/),
    recovery: expect.stringMatching(/^true/),
    hostile: expect.stringMatching(/^true/),
    divergence: expect.stringMatching(/^true/),
  });
  const details = (
    run.results as unknown as { checkerDetails?: { hostile?: { attacks: { attack: string }[] } } } | null
  )?.checkerDetails?.hostile;
  expect(new Set(details?.attacks.map((a) => a.attack))).toEqual(new Set(attackNames));
  expect(run.code).toBe(0);
}, 180_000);
