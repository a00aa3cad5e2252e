/**
 * Benchmark of the linearizability checker (a script, not a test):
 *   npx tsx jepsen-lite/checker/bench.ts [--clients 10] [--seconds 60] [--ops 20000] [--keys 200]
 *        [--info-rate 0.01] [--seed 1] [--stale] [--out FILE]
 * Generates a synthetic register history like a jepsen-lite run (synthetic-history.ts), checks it and
 * prints the figures (wall and CPU time of the check, search steps) as JSON. Exits 1 on a wrong verdict.
 */
import { writeFileSync } from 'node:fs';
import { historyToJsonl } from '../history';
import { checkLinearizability } from './linearizability';
import { syntheticRegisterHistory, type SyntheticOptions } from './synthetic-history';

interface Args extends SyntheticOptions {
  out: string | null;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    clients: 10,
    seconds: 60,
    ops: 20_000,
    keys: 200,
    infoRate: 0.01,
    seed: 1,
    stale: false,
    out: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v)) throw new Error(`${flag} needs a number`);
      return v;
    };
    if (flag === '--clients') a.clients = num();
    else if (flag === '--seconds') a.seconds = num();
    else if (flag === '--ops') a.ops = num();
    else if (flag === '--keys') a.keys = num();
    else if (flag === '--info-rate') a.infoRate = num();
    else if (flag === '--seed') a.seed = num();
    else if (flag === '--stale') a.stale = true;
    else if (flag === '--out') a.out = argv[++i] ?? null;
    else throw new Error(`unknown option ${flag}`);
  }
  return a;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const events = syntheticRegisterHistory(args);
  const genMs = performance.now() - t0;
  if (args.out !== null) writeFileSync(args.out, historyToJsonl(events));
  const t1 = performance.now();
  const cpu0 = process.cpuUsage();
  const r = checkLinearizability(events);
  const checkMs = performance.now() - t1;
  const cpu = process.cpuUsage(cpu0);
  const steps = r.perKey.map((k) => k.steps);
  console.log(
    JSON.stringify(
      {
        args,
        events: events.length,
        ops: r.ops,
        keys: r.keys,
        info: events.filter((e) => e.type === 'info').length,
        valid: r.valid,
        expected: !args.stale,
        generateMs: Math.round(genMs),
        checkMs: Math.round(checkMs),
        checkCpuMs: Math.round((cpu.user + cpu.system) / 1000),
        opsPerSecond: Math.round(r.ops / (checkMs / 1000)),
        searchStepsTotal: steps.reduce((s, n) => s + n, 0),
        searchStepsMaxPerKey: Math.max(...steps),
        anomalies: r.anomalies.map((a) => ({ key: a.key, ops: a.ops, keyOps: a.keyOps, shrinkMs: a.shrink.elapsedMs })),
      },
      null,
      2,
    ),
  );
  if (r.valid !== !args.stale) process.exitCode = 1;
}

main();
