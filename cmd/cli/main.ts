/**
 * The tessera CLI (like etcdctl): dispatches a subcommand and turns errors into messages and exit codes
 * (0 ok; 1 the operation did not succeed; 2 usage; 3 cluster unreachable or timed out).
 * `tessera start` is dispatched by cmd/tessera.ts before this module (it runs a node, not a client).
 */
import { EXIT_OK, EXIT_USAGE, UsageError, exitCodeFor, globalOptionsHelp } from './args';
import type { Io } from './args';
import { adminHelp, leaderCommand, memberCommand, statusCommand } from './admin-commands';
import { backupCommand, backupHelp, restoreCommand } from './backup-commands';
import { benchCommand, benchHelp } from './bench';
import { shardCommand, shardHelp } from './shard-commands';
import { nodeCommand, nodeHelp } from './node-commands';
import { casCommand, delCommand, getCommand, kvHelp, putCommand, scanCommand } from './kv-commands';
import { userCommand, userHelp } from './user-commands';

export const usageText = `Usage: tessera COMMAND [ARGS] [OPTIONS]

Node:
  start --id N --listen HOST:PORT --peers ID=HOST:PORT,... --data-dir DIR --http HOST:PORT
                                    run one storage node (see tessera start --help)

${kvHelp}

${adminHelp}

${shardHelp}

${nodeHelp}

${backupHelp}

${benchHelp}

${userHelp}

${globalOptionsHelp}

Exit codes: 0 ok; 1 the operation did not succeed (missing key, failed compare, error from the cluster);
2 usage error; 3 the cluster was unreachable or did not answer in time.`;

type Command = (argv: string[], io: Io) => Promise<number>;

const commands: Record<string, Command> = {
  put: putCommand,
  get: getCommand,
  del: delCommand,
  delete: delCommand,
  scan: scanCommand,
  cas: casCommand,
  status: statusCommand,
  member: memberCommand,
  leader: leaderCommand,
  shard: shardCommand,
  node: nodeCommand,
  bench: benchCommand,
  backup: backupCommand,
  restore: restoreCommand,
  user: userCommand,
};

export const defaultIo: Io = {
  out: (text) => process.stdout.write(text + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
};

export async function runCli(argv: string[], io: Io = defaultIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.out(usageText);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const command = commands[name];
  if (command === undefined) {
    io.err(`tessera: unknown command '${name}'\n\n${usageText}`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(usageText);
    return EXIT_OK;
  }
  try {
    return await command(rest, io);
  } catch (e) {
    const code = exitCodeFor(e);
    io.err(
      `tessera ${name}: ${(e as Error).message}${e instanceof UsageError ? '\n(run tessera --help for usage)' : ''}`,
    );
    return code;
  }
}
