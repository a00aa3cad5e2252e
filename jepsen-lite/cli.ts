#!/usr/bin/env node
/**
 * `npm run jepsen -- [options]` runs a jepsen-lite test (see run/options.ts for the options);
 * `npm run jepsen -- check FILE [--initial JSON]` checks a recorded history (the checker's command).
 * Exit codes: 0 every checker passed, 1 an anomaly was found, 2 harness error or bad usage
 * (an inconclusive verdict is also 2: the run proved nothing).
 */
import { runCheckCommand } from './checker';
import { parseRunArgs, RUN_USAGE, UsageError } from './run/options';
import { replayCommand, runTest } from './run/run';

export async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'check') return runCheckCommand(argv.slice(1));
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(RUN_USAGE);
    return 0;
  }
  let options;
  try {
    options = parseRunArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`jepsen-lite: ${e.message}\n\n${RUN_USAGE}`);
      return 2;
    }
    throw e;
  }
  const log = (line: string): void => console.log(`[jepsen-lite ${new Date().toISOString().slice(11, 23)}] ${line}`);
  log(`seed ${options.seed}; replay: ${replayCommand(options)}`);
  log(`output: ${options.outDir}`);
  try {
    const r = await runTest(options, log);
    console.log('');
    for (const v of r.verdicts)
      console.log(`  ${v.valid === true ? 'ok  ' : v.valid === false ? 'FAIL' : '??  '} ${v.name}: ${v.summary}`);
    console.log(`\n${r.summary}`);
    console.log(`results: ${r.outDir}/results.json  report: ${r.outDir}/report.html`);
    return r.valid === true ? 0 : r.valid === false ? 1 : 2;
  } catch (e) {
    console.error(`jepsen-lite: harness error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    console.error(`seed ${options.seed}; output in ${options.outDir}`);
    return 2;
  }
}

if (require.main === module) {
  // Ctrl-C or SIGTERM: exit, and the cluster's exit handler kills the node processes.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e);
      process.exit(2);
    },
  );
}
