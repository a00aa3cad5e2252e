/**
 * Direct entry point of the `check` command: `npx tsx jepsen-lite/checker/check-main.ts FILE [options]`
 * (or `node dist/jepsen-lite/checker/check-main.js`). Same arguments and exit codes as
 * `npm run jepsen -- check` (see check-command.ts).
 */
import { runCheckCommand } from './check-command';

runCheckCommand(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`check: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 2;
  },
);
