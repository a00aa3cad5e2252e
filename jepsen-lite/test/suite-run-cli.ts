/**
 * Helper for the CI suite: runs the built CLI (dist/jepsen-lite/cli.js, built by `npm test` before
 * vitest) as a child process with a time bound, in a temp output folder, and returns its exit code,
 * output and results.json. The output folder is removed unless the run did not give the expected code
 * (then it is kept and printed, with the replay command the CLI printed).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePortBlock } from '../net/free-ports';

export const repo = resolve(__dirname, '..', '..');
const cli = join(repo, 'dist', 'jepsen-lite', 'cli.js');

export interface CliRun {
  code: number | null;
  output: string;
  outDir: string;
  results: {
    valid: boolean | 'unknown';
    summary: string;
    verdicts: { name: string; valid: unknown; summary: string }[];
    anomalies: unknown[];
  } | null;
  elapsedMs: number;
}

/** Ports one run may use (jepsen-lite/net/ports.ts: 30 + nodes^2 for up to 8 nodes). */
const RUN_PORTS_MAX = 100;

/** Runs the CLI; without a --base-port in `args`, on a free block of ports found here. */
export async function runCli(args: string[], timeoutMs: number): Promise<CliRun> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (npx tsc -p tsconfig.build.json)`);
  if (!args.includes('--base-port')) args = [...args, '--base-port', String(await freePortBlock(RUN_PORTS_MAX))];
  const outDir = mkdtempSync(join(tmpdir(), 'jl-suite-'));
  const t0 = Date.now();
  // Own process group, so a timeout can end the CLI and the nodes it started together.
  const child = spawn(process.execPath, [cli, '--out', outDir, ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d.toString()));
  child.stderr.on('data', (d) => (output += d.toString()));
  const timer = setTimeout(() => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, timeoutMs);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  const resultsFile = join(outDir, 'results.json');
  const results = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')) : null;
  return { code, output, outDir, results, elapsedMs: Date.now() - t0 };
}

/** Removes the run folder when the run went as expected; otherwise prints where it is. */
export function finish(run: CliRun, expectedCode: number): void {
  console.log(
    `${run.output.trim().split('\n').slice(-8).join('\n')}\n(exit ${run.code}, ${Math.round(run.elapsedMs / 1000)} s)`,
  );
  if (run.code === expectedCode) rmSync(run.outDir, { recursive: true, force: true });
  else console.log(`jepsen-lite suite: unexpected exit ${run.code}; run folder kept: ${run.outDir}\n${run.output}`);
}
