/**
 * The simulator from the command line:
 *   npm run sim -- --seeds N --from S [--workers W] [--profile standard|aggressive]
 *                  [--unsafe commitOldTermByCount|ackBeforePersist|regressConfigOnAdvance|uninitializedTakesEntries|
 *                            splitWrongSide|splitSkipSessions]
 *                  [--no-ack-order-check]
 *                  [--mix '{"holdReadyRate":0.9}'] (fault mix fields that replace the drawn ones)
 *                  [--trace] [--random] [--keep-going] [--no-record]
 * Runs seeds S..S+N-1 (or N fresh random seeds with --random, printed), on W worker threads (default:
 * 2 for 200+ seeds, else 1), prints progress and throughput, and on the first failure prints the seed,
 * the fault mix, the last trace events and a one-line replay command, then exits 1. A failing seed of
 * the safe core is appended to regressions.json (unless --no-record). --trace prints every event.
 */
import { availableParallelism } from 'node:os';
import type { FaultMix, Profile } from './fault-mix';
import { runSeedsParallel } from './parallel';
import { recordRegression } from './regression-list';
import { kvUnsafeSwitches, type SeedResult, type UnsafeSwitch } from './run-seed';
import type { RangeSummary } from './seed-runner';
import { formatFailure, freshSeeds, range, runSeeds } from './seed-runner';

const known = [
  'seeds',
  'from',
  'workers',
  'profile',
  'unsafe',
  'no-ack-order-check',
  'trace',
  'random',
  'keep-going',
  'no-record',
  'mix',
];

function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const name = a.slice(2);
    if (!known.includes(name))
      throw new Error(`unknown option --${name} (known: ${known.map((k) => `--${k}`).join(' ')})`);
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out.set(name, next);
      i++;
    } else out.set(name, 'true');
  }
  return out;
}

function intArg(args: Map<string, string>, name: string, dflt: number): number {
  const v = args.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
  return n;
}

/** --mix '{"membership":true,"holdReadyRate":0.9}': fault mix fields that replace the drawn ones. */
function parseMix(text: string | undefined): Partial<FaultMix> | undefined {
  if (text === undefined) return undefined;
  const mix = JSON.parse(text) as unknown;
  if (typeof mix !== 'object' || mix === null || Array.isArray(mix)) throw new Error('--mix must be a JSON object');
  return mix as Partial<FaultMix>;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const count = intArg(args, 'seeds', 100);
  const from = intArg(args, 'from', 1);
  const profile = (args.get('profile') ?? 'standard') as Profile;
  if (profile !== 'standard' && profile !== 'aggressive') throw new Error('--profile must be standard or aggressive');
  const unsafe = args.get('unsafe') as UnsafeSwitch | undefined;
  const switches = [
    'commitOldTermByCount',
    'ackBeforePersist',
    'regressConfigOnAdvance',
    'uninitializedTakesEntries',
    ...kvUnsafeSwitches,
  ];
  if (unsafe !== undefined && !switches.includes(unsafe))
    throw new Error(`--unsafe must be one of ${switches.join(', ')}`);
  const traceAll = args.has('trace');
  const keepGoing = args.has('keep-going');
  const checkAckOrder = !args.has('no-ack-order-check');
  const workers = traceAll ? 1 : intArg(args, 'workers', count >= 200 ? Math.min(2, availableParallelism()) : 1);
  const seeds = args.has('random') ? freshSeeds(count) : [...range(from, count)];
  if (args.has('random')) console.log(`fresh random seeds: ${seeds.join(',')}`);
  console.log(
    `simulating ${seeds.length} seed(s) from ${seeds[0]} on ${workers} worker(s) (profile ${profile}${unsafe ? `, unsafe ${unsafe}` : ''})`,
  );

  let lastReport = performance.now();
  const progress = (done: number): void => {
    if (performance.now() - lastReport < 5000) return;
    lastReport = performance.now();
    console.log(`  ... ${done}/${seeds.length} seeds`);
  };
  const onFailure = (r: SeedResult): void => console.log(`\n${formatFailure(r)}\n`);
  const mixOverride = parseMix(args.get('mix'));
  const base = { profile, unsafe, checkAckOrder, traceAll, mixOverride };
  let summary: RangeSummary;
  if (workers > 1) {
    summary = await runSeedsParallel(seeds, base, workers, {
      stopOnFailure: !keepGoing,
      onFailure,
      onProgress: progress,
    });
  } else {
    let done = 0;
    summary = runSeeds(
      seeds,
      { ...base, traceEcho: traceAll ? (l) => console.log(l) : undefined },
      {
        stopOnFailure: !keepGoing,
        onResult: (r) => {
          if (traceAll)
            console.log(`seed ${r.seed}: ${r.ok ? 'ok' : 'FAILED'}; ${r.mixText}; stats ${JSON.stringify(r.stats)}`);
          if (!r.ok) onFailure(r);
          progress(++done);
        },
      },
    );
  }
  const secs = summary.elapsedMs / 1000;
  console.log(
    `${summary.seeds} seed(s) in ${secs.toFixed(1)} s (${(summary.seeds / secs).toFixed(1)} seeds/s); ` +
      `${summary.totals.ops} client ops, ${summary.totals.reads} reads checked, ${summary.totals.crashes} crashes, ${summary.totals.messages} messages; ` +
      `${summary.failures.length} failure(s)`,
  );
  if (summary.failures.length === 0) return 0;
  console.log(`failing seeds: ${summary.failures.map((f) => f.seed).join(',')}`);
  if (!unsafe && !args.has('no-record')) {
    for (const f of summary.failures) {
      if (recordRegression(f.seed, profile, f.mix, `found by the CLI: ${f.failure?.message.slice(0, 200)}`)) {
        console.log(`seed ${f.seed} added to test/sim/regressions.json`);
      }
    }
  }
  return 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 2;
  },
);
