/**
 * Integration-test helpers: a real 3-node Tessera cluster of `node dist/cmd/tessera.js start` processes
 * on 127.0.0.1 (gRPC basePort+id, HTTP basePort+50+id), data in a fresh mkdtemp directory. The port block
 * (PORTS_PER_CLUSTER ports from basePort) is a free one found at start (freePortBlock: each port checked by
 * binding it) unless the test gives its own. Every process is killed by its PID in stopAll(); every wait
 * is bounded. Node output is kept (last lines per node) and printed when a wait fails.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '../../src/client';
import type { ClientOptions } from '../../src/client';
import { summarize } from '../../cmd/cli/status-summary';
import { freePortBlock } from '../support/free-ports';

export const ROOT = resolve(__dirname, '..', '..');
export const TESSERA_JS = join(ROOT, 'dist', 'cmd', 'tessera.js');
export const LOG_LINES_KEPT = 200;
/** When set, every node's whole log also goes to DIR/node-ID.log (for a soak's post-mortem). */
const LOG_DIR = process.env.TESSERA_IT_LOG_DIR;
/** Flags for each node's Node.js (space-separated), e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` for a benchmark's profile. */
const NODE_FLAGS = (process.env.TESSERA_IT_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '');

/** True when the build has the node entry point (integration tests need `npm run build` first). */
export function serverBuilt(): boolean {
  return existsSync(TESSERA_JS) && existsSync(join(ROOT, 'dist', 'cmd', 'start.js'));
}

/** Ports a cluster's block spans from basePort: gRPC basePort+id, HTTP basePort+50+id (ids up to 49). */
export const PORTS_PER_CLUSTER = 100;

/** A free block of PORTS_PER_CLUSTER ports, for tests that address a cluster's ports before it starts. */
export function freeClusterBasePort(): Promise<number> {
  return freePortBlock(PORTS_PER_CLUSTER);
}

export interface ClusterOptions {
  /** First port of the cluster's block (default: a free block found at start). */
  basePort?: number;
  ids?: number[];
  /** Extra flags for every node, e.g. ['--snapshot-entries', '50']. */
  nodeArgs?: string[];
  /** Node --log-level (default info). */
  logLevel?: string;
  /**
   * The --cluster-token every node gets (nodes joining later included); default a random one per cluster,
   * null: none (the cluster id is then derived from --peers, and no node can join without peer TLS).
   */
  clusterToken?: string | null;
}

export class TestCluster {
  readonly dir: string;
  readonly ids: number[];
  private readonly procs = new Map<number, ChildProcess>();
  private readonly logs = new Map<number, string[]>();
  private readonly clients: Client[] = [];
  /** The cluster's --cluster-token (null: none). */
  readonly clusterToken: string | null;

  constructor(private readonly opts: ClusterOptions & { basePort: number }) {
    this.ids = opts.ids ?? [1, 2, 3];
    this.clusterToken =
      opts.clusterToken === undefined ? `it-${opts.basePort}-${randomBytes(8).toString('hex')}` : opts.clusterToken;
    this.dir = mkdtempSync(join(tmpdir(), 'tessera-it-'));
  }

  static async start(opts: ClusterOptions = {}): Promise<TestCluster> {
    const c = new TestCluster({ ...opts, basePort: opts.basePort ?? (await freeClusterBasePort()) });
    try {
      for (const id of c.ids) c.startNode(id);
      await c.waitForLeader();
    } catch (e) {
      await c.stopAll(); // never leave processes behind when the cluster did not come up
      throw e;
    }
    return c;
  }

  /** First port of the cluster's block. */
  get basePort(): number {
    return this.opts.basePort;
  }

  /** The node's HTTP port (/metrics, /healthz). */
  httpPort(id: number): number {
    return this.opts.basePort + 50 + id;
  }

  address(id: number): string {
    return `127.0.0.1:${this.opts.basePort + id}`;
  }

  endpoints(): string[] {
    return this.ids.map((id) => this.address(id));
  }

  pid(id: number): number | undefined {
    return this.procs.get(id)?.pid;
  }

  /** The node process's exit code once it exited (null while running or killed by a signal). */
  exitCode(id: number): number | null {
    return this.procs.get(id)?.exitCode ?? null;
  }

  isRunning(id: number): boolean {
    const p = this.procs.get(id);
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  startNode(id: number, extraArgs: string[] = []): void {
    if (this.isRunning(id)) throw new Error(`node ${id} is already running`);
    const peers = this.ids.map((i) => `${i}=${this.address(i)}`).join(',');
    const args = [
      ...NODE_FLAGS,
      TESSERA_JS,
      'start',
      '--id',
      String(id),
      '--listen',
      this.address(id),
      '--peers',
      peers,
      '--data-dir',
      join(this.dir, `n${id}`),
      '--http',
      `127.0.0.1:${this.httpPort(id)}`,
      '--log-level',
      this.opts.logLevel ?? 'info',
      ...(this.clusterToken === null ? [] : ['--cluster-token', this.clusterToken]),
      ...(this.opts.nodeArgs ?? []),
      ...extraArgs,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = this.logs.get(id) ?? [];
    this.logs.set(id, lines);
    if (LOG_DIR !== undefined) mkdirSync(LOG_DIR, { recursive: true });
    const keep = (chunk: Buffer): void => {
      if (LOG_DIR !== undefined) appendFileSync(join(LOG_DIR, `node-${id}.log`), chunk);
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.length === 0) continue;
        lines.push(line.length > 500 ? line.slice(0, 500) + '...' : line);
        if (lines.length > LOG_LINES_KEPT) lines.shift();
      }
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.procs.set(id, child);
  }

  /** Sends a signal to the node's PID and waits (bounded) until it has exited. */
  async kill(id: number, signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 15_000): Promise<void> {
    const p = this.procs.get(id);
    if (p === undefined || !this.isRunning(id)) return;
    const exited = new Promise<void>((res) => p.once('exit', () => res()));
    const signalPid = (sig: NodeJS.Signals): void => {
      try {
        process.kill(p.pid!, sig);
      } catch {
        // already gone (ESRCH): the exit event follows
      }
    };
    signalPid(signal);
    const timer = setTimeout(() => {
      if (this.isRunning(id)) signalPid('SIGKILL');
    }, timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  async restart(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.kill(id, signal);
    this.startNode(id);
  }

  /** Waits until a node reports itself leader of every group; returns the first group's leader and term. */
  async waitForLeader(timeoutMs = 20_000, notId?: number): Promise<{ leader: number; term: number }> {
    const client = this.client({ deadlineMs: 1000 });
    const deadline = Date.now() + timeoutMs;
    let last = 'no status yet';
    while (Date.now() < deadline) {
      const s = summarize(await client.clusterStatus({ timeoutMs: 800 }));
      const g = s.groups[0];
      if (g !== undefined) {
        last = JSON.stringify({
          leader: g.leader,
          term: g.term,
          roles: g.replicas.map((r) => `${r.nodeId}:${r.role}`),
        });
        const leaderReplica = g.replicas.find((r) => r.nodeId === g.leader && r.role === 'leader' && r.term === g.term);
        if (leaderReplica && g.leader !== notId) return { leader: g.leader, term: g.term };
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no leader within ${timeoutMs} ms (last status ${last})\n${this.recentLogs()}`);
  }

  /** A client tracked by the cluster and closed in stopAll(). */
  client(options: Partial<ClientOptions> = {}): Client {
    const c = new Client({ endpoints: this.endpoints(), ...options });
    this.clients.push(c);
    return c;
  }

  recentLogs(lines = 30): string {
    // Every node that logged, those started later (startNode) included.
    return [...new Set([...this.ids, ...this.logs.keys()])]
      .map((id) => `--- node ${id} (last ${lines} lines) ---\n${(this.logs.get(id) ?? []).slice(-lines).join('\n')}`)
      .join('\n');
  }

  /** Closes clients, SIGKILLs every node by PID, removes the data directory. */
  async stopAll(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.close()));
    await Promise.all(this.ids.map((id) => this.kill(id, 'SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls fn until it returns true, at most timeoutMs. */
export async function eventually(
  what: string,
  timeoutMs: number,
  fn: () => Promise<boolean>,
  pollMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  while (Date.now() < deadline) {
    try {
      if (await fn()) return;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new Error(
    `${what}: not true within ${timeoutMs} ms${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`,
  );
}

/** Runs fn over items with at most `concurrency` in flight; resolves to the results in order. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
