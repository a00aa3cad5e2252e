#!/usr/bin/env node
/**
 * The `tessera` executable (package.json bin). `tessera start ...` runs a storage node (cmd/start.ts,
 * runStart); every other command is a client command (cmd/cli/main.ts).
 */
import { join } from 'node:path';
import { runCli } from './cli/main';

type RunStart = (argv: string[]) => Promise<void>;

function loadRunStart(): RunStart | null {
  try {
    // Resolved at run time so the CLI builds and runs even in a tree without the node entry point.
    const mod = require(join(__dirname, 'start')) as { runStart?: RunStart };
    return typeof mod.runStart === 'function' ? mod.runStart : null;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && err.message.includes(join(__dirname, 'start'))) return null;
    throw e;
  }
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'start') {
    const runStart = loadRunStart();
    if (runStart === null) {
      process.stderr.write('tessera start: this build has no node entry point (cmd/start.ts with runStart)\n');
      return 2;
    }
    await runStart(argv.slice(1));
    return -1; // the node keeps the process alive and exits by itself
  }
  return runCli(argv);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tessera: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
