// CI suite: register workload under the catchup and membership nemeses on a real 3-node cluster must pass
// (exit 0), with the divergence check at the end. The seed plans a catchup fault (a follower killed, the
// others compact past it, killed again while it catches up by snapshot) and then a membership away fault
// (a follower stopped, removed, the others compact, it comes back on its old data and is re-added).
// Ports: a free block (suite-run-cli.ts). Replay: the command printed by the CLI (seed fixed here).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { finish, runCli } from './suite-run-cli';

it('register + catchup,membership for 20 s passes, with catch-ups by snapshot after compaction', async () => {
  const run = await runCli(
    [
      ...['--workload', 'register', '--nemesis', 'catchup,membership', '--time', '20', '--seed', '248'],
      ...['--quiet', '1,2'],
    ],
    170_000,
  );
  const events = (() => {
    try {
      return readFileSync(join(run.outDir, 'nemesis.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; kind: string; description: string });
    } catch {
      return [];
    }
  })();
  finish(run, 0);
  const said = events.map((e) => `${e.type} ${e.kind}: ${e.description}`).join('\n');
  expect(said).toMatch(/start catchup: kill follower \d/);
  expect(said).toMatch(/instant compaction: nodes [\d,]+ compacted past \d+/);
  expect(said).toMatch(/instant catchup: kill the catching-up follower \d/);
  expect(said).toMatch(/start membership: remove node \d while it is stopped/);
  expect(run.results?.verdicts.find((v) => v.name === 'divergence')?.valid).toBe(true);
  expect(run.code).toBe(0);
  expect(run.results?.valid).toBe(true);
}, 180_000);
