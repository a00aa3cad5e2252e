/**
 * `npm start`: a local 3-node Tessera cluster for trying things out. Starts three `tessera start` child
 * processes on 127.0.0.1:7001-7003 (HTTP /metrics and /healthz on 7101-7103) with data under
 * ./data/n1..n3, prefixes each node's log lines with its name (pino JSON made readable), reports the
 * leader when one is elected or changes, prints the endpoints and a CLI example, and on Ctrl-C
 * (SIGINT or SIGTERM) sends SIGTERM to every child, waits for them (SIGKILL after 10 s) and exits 0.
 *
 *   npm start [-- --data-dir DIR] [-- --verbose] [-- --clean] [-- --node-args "EXTRA FLAGS"]
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Client } from '../src/client';
import { summarize } from './cli/status-summary';
import { leaderLine } from './leader-line';

const NODES = [1, 2, 3];
const host = '127.0.0.1';
const grpcPort = (id: number): number => 7000 + id;
const httpPort = (id: number): number => 7100 + id;
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_NUMBERS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const SKIP_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'name', 'v', 'node']);

interface Options {
  dataDir: string;
  verbose: boolean;
  clean: boolean;
  nodeArgs: string[];
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      verbose: { type: 'boolean' },
      clean: { type: 'boolean' },
      'node-args': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm start [-- --data-dir DIR (default ./data)] [--verbose] [--clean] [--node-args "FLAGS"]\n',
    );
    process.exit(0);
  }
  const nodeArgs = (values['node-args'] ?? '').split(/\s+/).filter((s) => s.length > 0);
  return {
    dataDir: resolve(values['data-dir'] ?? 'data'),
    verbose: values.verbose === true,
    clean: values.clean === true,
    nodeArgs,
  };
}

/** How to run the tessera CLI from here: the built JS next to this file, or the TS source under tsx. */
function tesseraCommand(): string[] {
  if (__filename.endsWith('.ts')) return [require.resolve('tsx/cli'), join(__dirname, 'tessera.ts')];
  return [join(__dirname, 'tessera.js')];
}

function formatLine(name: string, line: string, verbose: boolean): string | null {
  if (!line.startsWith('{')) return `[${name}] ${line}`;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `[${name}] ${line}`;
  }
  const level = typeof rec.level === 'number' ? rec.level : (LEVEL_NUMBERS[String(rec.level)] ?? 30);
  if (level < 30 && !verbose) return null;
  const extras = Object.entries(rec)
    .filter(([k]) => !SKIP_FIELDS.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  return `[${name}] ${(LEVELS[level] ?? String(level)).padEnd(5)} ${String(rec.msg ?? '')}${extras ? '  ' + extras : ''}`;
}

/**
 * The local cluster's secret token (the cluster id is derived from it, and peers must present that id):
 * made at random when the data directory is new and kept in DIR/cluster-token (mode 0600), so restarts
 * use the same one. A data directory made by an older version without the file keeps its id from --peers.
 */
function clusterToken(dataDir: string): string | null {
  const file = join(dataDir, 'cluster-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  if (NODES.some((id) => existsSync(join(dataDir, `n${id}`, 'db')))) return null;
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(16).toString('hex');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return token;
}

/** The supervisor: starts the three nodes, reports leadership changes, stops every node on exit. */
class LocalCluster {
  private readonly children = new Map<number, ChildProcess>();
  private readonly endpoints = NODES.map((id) => `${host}:${grpcPort(id)}`);
  private readonly client = new Client({ endpoints: this.endpoints, deadlineMs: 1000 });
  private stopping = false;
  private exited = 0;
  private exitCode = 0;
  private killTimer: NodeJS.Timeout | null = null;
  private poll: NodeJS.Timeout | null = null;
  private lastLeader = -1;
  private announced = false;

  constructor(private readonly opts: ReturnType<typeof parseOptions>) {}

  start(): void {
    const peers = NODES.map((id) => `${id}=${host}:${grpcPort(id)}`).join(',');
    const token = clusterToken(this.opts.dataDir);
    for (const id of NODES) this.startNode(id, peers, token);
    process.stdout.write(`started 3 nodes (data under ${this.opts.dataDir}); waiting for a leader...\n`);
    this.poll = setInterval(() => void this.reportLeader().catch(() => undefined), 1000);
    process.on('exit', () => this.killAll('SIGKILL'));
    process.on('SIGINT', () => this.stop('Ctrl-C', 0));
    process.on('SIGTERM', () => this.stop('SIGTERM', 0));
  }

  private startNode(id: number, peers: string, token: string | null): void {
    const name = `n${id}`;
    const dataDir = join(this.opts.dataDir, name);
    mkdirSync(dataDir, { recursive: true });
    const [cmd, ...cmdArgs] = [process.execPath, ...tesseraCommand()];
    const args = [
      ...cmdArgs,
      'start',
      '--id',
      String(id),
      '--listen',
      `${host}:${grpcPort(id)}`,
      '--peers',
      peers,
      '--data-dir',
      dataDir,
      '--http',
      `${host}:${httpPort(id)}`,
      ...(token === null ? [] : ['--cluster-token', token]),
      ...this.opts.nodeArgs,
    ];
    // detached: its own process group, so Ctrl-C reaches only this supervisor, which stops the nodes in order.
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.children.set(id, child);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        const text = formatLine(name, line, this.opts.verbose);
        if (text !== null) process.stdout.write(text + '\n');
      });
    }
    child.on('exit', (code, signal) => {
      this.exited++;
      process.stdout.write(`[${name}] exited (${signal ?? `code ${code}`})\n`);
      if (!this.stopping) this.stop(`node ${name} exited unexpectedly`, 1);
      else if (this.exited === NODES.length) this.finish();
    });
  }

  private async reportLeader(): Promise<void> {
    const statuses = await this.client.clusterStatus({ timeoutMs: 800 });
    if (this.stopping) return;
    const g = summarize(statuses).groups[0];
    if (g === undefined || g.leader === this.lastLeader) return;
    this.lastLeader = g.leader;
    process.stdout.write(leaderLine(g, this.announced, (id) => `${host}:${grpcPort(id)}`) + '\n');
    if (g.leader === 0) return;
    if (!this.announced) {
      this.announced = true;
      process.stdout.write(banner(this.endpoints));
    }
  }

  private killAll(signal: NodeJS.Signals): void {
    for (const child of this.children.values()) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    }
  }

  private stop(why: string, code: number): void {
    if (this.stopping) return;
    this.stopping = true;
    this.exitCode = code;
    process.stdout.write(`\n${why}: stopping the nodes (SIGTERM)...\n`);
    this.killAll('SIGTERM');
    this.killTimer = setTimeout(() => this.killAll('SIGKILL'), 10_000);
    if (this.exited === NODES.length) this.finish();
  }

  private finish(): void {
    if (this.poll) clearInterval(this.poll);
    if (this.killTimer) clearTimeout(this.killTimer);
    void this.client.close().then(() => {
      process.stdout.write('cluster stopped\n');
      process.exit(this.exitCode);
    });
  }
}

/** What to print once the cluster has its first leader. */
function banner(endpoints: string[]): string {
  return (
    [
      '',
      'Tessera is running.',
      `  endpoints (gRPC):  ${endpoints.join(',')}`,
      `  dashboard:         ${NODES.map((id) => `http://${host}:${httpPort(id)}/`).join('  ')}`,
      `  metrics, health:   ${NODES.map((id) => `http://${host}:${httpPort(id)}/metrics`).join('  ')}`,
      '  try:',
      '    node dist/cmd/tessera.js put hello world',
      '    node dist/cmd/tessera.js get hello',
      '    node dist/cmd/tessera.js status',
      '  (or `npx tessera ...` where the package is installed as a dependency)',
      '  Ctrl-C stops the cluster.',
      '',
    ].join('\n') + '\n'
  );
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.clean) rmSync(opts.dataDir, { recursive: true, force: true });
  new LocalCluster(opts).start();
}

main().catch((e: unknown) => {
  process.stderr.write(`local-cluster: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
