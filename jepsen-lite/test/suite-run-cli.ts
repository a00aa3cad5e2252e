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
import { expect } from 'vitest';
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

/** The suites that may run side by side (vitest.config.mts runs two files at a time); each has its slot. */
const SUITES = ['register', 'set', 'hostile', 'canary', 'catchup', 'overload'];
/** freePortBlock draws from 10000..32000; a slot is an equal share of that range. */
const PORTS_LOW = 10_000;
const SLOT_PORTS = Math.floor(22_000 / SUITES.length);

/**
 * A free block for one run, inside the calling suite file's own slot of the port range, so two suites that
 * pick at the same moment (before either has bound its ports) cannot pick overlapping blocks. The calls of
 * one file run one after the other. A file not in SUITES, or no block of its slot in 50 draws: any block.
 */
async function runPortBlock(): Promise<number> {
  const path = expect.getState().testPath ?? '';
  const slot = SUITES.findIndex((name) => path.endsWith(`suite-${name}.test.ts`));
  if (slot >= 0) {
    const low = PORTS_LOW + slot * SLOT_PORTS;
    for (let i = 0; i < 50; i++) {
      const base = await freePortBlock(RUN_PORTS_MAX);
      if (base >= low && base + RUN_PORTS_MAX <= low + SLOT_PORTS) return base;
    }
  }
  return freePortBlock(RUN_PORTS_MAX);
}

/** Runs the CLI; without a --base-port in `args`, on a free block of ports found here. */
export async function runCli(args: string[], timeoutMs: number): Promise<CliRun> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (npx tsc -p tsconfig.build.json)`);
  if (!args.includes('--base-port')) args = [...args, '--base-port', String(await runPortBlock())];
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
