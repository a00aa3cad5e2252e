/**
 * `tessera start`: runs one storage node until SIGTERM or SIGINT.
 *
 *   tessera start --id N --listen HOST:PORT --peers ID=HOST:PORT,... --data-dir DIR [--http HOST:PORT] [...]
 *
 * Every option can also come from an environment variable (TESSERA_<NAME>, e.g. TESSERA_DATA_DIR) or a
 * JSON file (--config FILE, keys are the camelCase option names); flags win over env, env over the file.
 * `tessera start --help` lists every option.
 *
 * Logs: pino JSON lines on stdout. Exit codes:
 *   0  stopped by SIGTERM / SIGINT after a graceful shutdown: move leaderships to other voters (at most
 *      --shutdown-drain-ms), then stop accepting (new calls: UNAVAILABLE), close gRPC, close LevelDB
 *   1  fatal error while running (persistence or apply failure, invariant violation) or start failure
 *      (a CORRUPTION met while running, e.g. an apply reading a damaged value record, exits 3 instead)
 *   2  invalid configuration (the message names the flag / variable / file key), or a start refused before
 *      anything was written: an unusable data dir, a port in use, a data dir whose stored node id, cluster
 *      id or membership the flags contradict (one line on stderr names the data dir or flag)
 *   3  data corruption found at start: a record failed its checksum (the log line names the key), or the
 *      LevelDB files are damaged (a corrupt MANIFEST, a missing or truncated table, a missing CURRENT; see
 *      storage/level-failure.ts). The node refuses to serve; the message says how to rebuild the replica
 *      from its peers (recoverySteps). A LOCK held by another process stays exit 2.
 */
import { isTesseraError } from '../src/base';
import { loadNodeConfig, optionUsage } from '../src/config';
import { createPinoLogger } from '../src/obs';
import { startTesseraNode, type TesseraNode } from '../src/server';

export const EXIT_OK = 0;
export const EXIT_FATAL = 1;
export const EXIT_CONFIG = 2;
export const EXIT_CORRUPTION = 3;

const USAGE = `usage: tessera start --id N --listen HOST:PORT --peers ID=HOST:PORT,... --data-dir DIR [--http HOST:PORT] [options]

Starts one Tessera storage node. Three nodes started with the same --peers (and --cluster-token) and
empty data directories form a new cluster; a node restarted on its data directory rejoins with its state.
A node joining a running cluster is started with --join and the cluster's --cluster-token (with peer
mutual TLS the token may be left out: it learns the cluster id from its first authenticated peer), then
added with 'tessera member add ID HOST:PORT', which promotes it to voter once it has caught up.

The data directory records the node id, the cluster id and the membership: --peers only bootstraps a new
node. A restart with another --id, another --cluster-token, or a --peers that contradicts the stored
membership (the original --peers and the current membership are both fine) is refused with exit 2.

Options (each also as env TESSERA_<NAME> or a key of the --config JSON file):
${optionUsage()}

Timing profiles: default = heartbeat 100 ms, election 1000 ms (etcd-like);
low-latency = heartbeat 20 ms, election 200 ms (loopback/LAN; faster failover, more sensitive to pauses).
--unsafe-stale-reads is for testing only: it breaks linearizability.

Memory budget (--memory-budget-mib, default 512): the node's overload bounds derive from it. An eighth is
the bytes of client requests and responses in flight (past it: RESOURCE_EXHAUSTED at once); one stream may
queue budget/64 (1..16 MiB) of unread responses before the node stops reading it; one gRPC connection may
use budget/16 of HTTP/2 memory; a Scan page holds at most budget/64. See README "Memory budget and overload".

SIGTERM / SIGINT: the node first hands every leadership it holds to a caught-up voter (at most
--shutdown-drain-ms, default 5000; it takes no leadership meanwhile), then stops; a second signal exits at once.

Exit codes: 0 stopped by SIGTERM/SIGINT, 1 fatal error, 2 bad configuration or a start refused before
anything was written (unusable data dir, port in use, identity mismatch, data dir locked by another
process), 3 data corruption at start (a record failed its checksum, or damaged LevelDB files): wipe the
data dir and re-add the replica (member remove ID, wipe, start with --join, member add ID HOST:PORT).
`;

/** What an operator does about a corrupt replica: remove it, wipe its data, add it back (it catches up by snapshot). */
export function recoverySteps(config: {
  id: number;
  dataDir: string;
  advertiseAddress: string;
  peerListen: unknown;
}): string {
  const peerAddress = config.peerListen === null ? '' : ' --peer-address PEER_HOST:PORT';
  return (
    `this replica's data cannot be trusted; rebuild it from its peers: (1) tessera member remove ${config.id} (against a live member), ` +
    `(2) wipe the data dir ${config.dataDir}, (3) start this node again with --join and the cluster's --cluster-token, ` +
    `(4) tessera member add ${config.id} ${config.advertiseAddress}${peerAddress} (it catches up by snapshot). ` +
    'On a single-node cluster, restore the data dir from a backup instead'
  );
}

function exitSoon(code: number): void {
  process.exitCode = code;
  // Let pending log writes drain, then leave even if a stray handle would keep the loop alive.
  setTimeout(() => process.exit(code), 50);
}

/** Runs a node; resolves once it stopped (the process then exits with process.exitCode). */
export async function runStart(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  let config;
  try {
    config = loadNodeConfig({ argv, env: process.env });
  } catch (e) {
    process.stderr.write(`tessera start: ${(e as Error).message} (see tessera start --help)\n`);
    exitSoon(isTesseraError(e) && e.code === 'CONFIG' ? EXIT_CONFIG : EXIT_FATAL);
    return;
  }
  const logger = createPinoLogger({ level: config.logLevel, base: { node: config.id } });
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  let node: TesseraNode | undefined;
  try {
    node = await startTesseraNode({
      config,
      logger,
      onFatal: (e) => {
        // Corruption met while running (an apply that reads a value record failing its check): exit 3 too.
        const corrupt = isTesseraError(e) && e.code === 'CORRUPTION';
        if (corrupt) {
          process.stderr.write(
            `tessera start: data corruption in data dir ${config.dataDir}: ${e.message}; stopping (exit ${EXIT_CORRUPTION}); ${recoverySteps(config)}\n`,
          );
        }
        void node
          ?.close()
          .catch(() => undefined)
          .finally(() => {
            exitSoon(corrupt ? EXIT_CORRUPTION : EXIT_FATAL);
            stopped();
          });
      },
    });
  } catch (e) {
    // One line on stderr says why (the JSON log on stdout keeps the details).
    const line = (text: string) => process.stderr.write(`tessera start: ${text.replace(/\s*\n\s*/g, ' ')}\n`);
    if (isTesseraError(e) && e.code === 'CORRUPTION') {
      const steps = recoverySteps(config);
      logger.fatal(
        { key: e.details.key, file: e.details.file, err: e.message, dataDir: config.dataDir, recovery: steps },
        `data corruption: ${e.message}; refusing to start (exit ${EXIT_CORRUPTION})`,
      );
      line(
        `data corruption in data dir ${config.dataDir}: ${e.message}; refusing to start (exit ${EXIT_CORRUPTION}); ${steps}`,
      );
      exitSoon(EXIT_CORRUPTION);
    } else if (isTesseraError(e) && e.code === 'CONFIG') {
      logger.fatal({ err: e.message }, 'cannot start');
      line(e.message);
      exitSoon(EXIT_CONFIG);
    } else {
      logger.fatal({ err: e instanceof Error ? { message: e.message, stack: e.stack } : String(e) }, 'cannot start');
      line(`cannot start: ${e instanceof Error ? e.message : String(e)}`);
      exitSoon(EXIT_FATAL);
    }
    return;
  }
  const running = node;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(EXIT_FATAL);
    }
    logger.info({ signal, drainMs: config.shutdownDrainMs }, 'shutting down');
    // Leaderships first (bounded by --shutdown-drain-ms; never rejects), then the graceful close.
    const drained = config.shutdownDrainMs > 0 ? running.drainLeaders(config.shutdownDrainMs) : Promise.resolve();
    drained
      .then(() => running.close())
      .then(
        () => {
          exitSoon(EXIT_OK);
          stopped();
        },
        (e: unknown) => {
          logger.error({ err: (e as Error).message }, 'error during shutdown');
          exitSoon(EXIT_FATAL);
          stopped();
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  await done;
}
