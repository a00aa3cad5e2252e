/**
 * One `tessera start` process under the harness's control: start, kill -9, restart on the same data
 * directory, SIGSTOP / SIGCONT, graceful stop. stdout and stderr are appended to one log file per node,
 * and every lifecycle step is written there too (lines starting with `### jepsen-lite`).
 *
 * Invariants: at most one OS process per NodeProcess; a paused process is continued before it is
 * signalled to stop; exits that the harness did not cause are recorded in `unexpectedExits`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

export type NodeRunState = 'stopped' | 'running' | 'paused';

export interface NodeProcessSpec {
  id: number;
  /** Executable and arguments before `start` (e.g. [process.execPath, 'dist/cmd/tessera.js']). */
  command: string[];
  /** Arguments after the command, including `start` and all flags. */
  args: string[];
  logFile: string;
  cwd: string;
}

/** How a stop() ended: the exit code or signal, and whether it took the SIGKILL after the grace time. */
export interface StopOutcome {
  wasRunning: boolean;
  code: number | null;
  signal: string | null;
  forced: boolean;
}

export interface UnexpectedExit {
  id: number;
  code: number | null;
  signal: string | null;
  atMs: number;
}

export class NodeProcess {
  private child: ChildProcess | null = null;
  private exitPromise: Promise<void> | null = null;
  private expectingExit = false;
  private paused = false;
  readonly unexpectedExits: UnexpectedExit[] = [];
  starts = 0;

  constructor(
    readonly spec: NodeProcessSpec,
    private readonly now: () => number,
  ) {
    mkdirSync(dirname(spec.logFile), { recursive: true });
  }

  get id(): number {
    return this.spec.id;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get state(): NodeRunState {
    if (!this.child) return 'stopped';
    return this.paused ? 'paused' : 'running';
  }

  private note(what: string): void {
    appendFileSync(this.spec.logFile, `### jepsen-lite t=${this.now().toFixed(0)}ms ${what}\n`);
  }

  start(): void {
    if (this.child) throw new Error(`node ${this.id} is already running (pid ${this.child.pid})`);
    const fd = openSync(this.spec.logFile, 'a');
    const [cmd, ...pre] = this.spec.command;
    if (!cmd) throw new Error('empty node command');
    this.note(`start: ${[cmd, ...pre, ...this.spec.args].join(' ')}`);
    const child = spawn(cmd, [...pre, ...this.spec.args], {
      cwd: this.spec.cwd,
      stdio: ['ignore', fd, fd],
      detached: false,
    });
    closeSync(fd);
    this.child = child;
    this.paused = false;
    this.expectingExit = false;
    this.starts++;
    this.exitPromise = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        if (this.child === child) {
          this.child = null;
          this.paused = false;
        }
        this.note(`exit code=${code} signal=${signal}${this.expectingExit ? '' : ' (UNEXPECTED)'}`);
        if (!this.expectingExit) this.unexpectedExits.push({ id: this.id, code, signal, atMs: this.now() });
        resolve();
      });
      child.once('error', (e) => {
        this.note(`spawn error: ${e.message}`);
        if (this.child === child) this.child = null;
        this.unexpectedExits.push({ id: this.id, code: null, signal: null, atMs: this.now() });
        resolve();
      });
    });
  }

  /** kill -9; resolves when the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.expectingExit = true;
    this.note('kill -9');
    child.kill('SIGKILL');
    await this.exitPromise;
  }

  pause(): void {
    if (!this.child || this.paused) return;
    this.note('SIGSTOP');
    this.child.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (!this.child || !this.paused) return;
    this.note('SIGCONT');
    this.child.kill('SIGCONT');
    this.paused = false;
  }

  /** Synchronous kill -9 for process exit handlers (no waiting, no logging). */
  killNow(): void {
    if (!this.child) return;
    this.expectingExit = true;
    this.child.kill('SIGKILL');
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs = 5000): Promise<void> {
    await this.terminate(graceMs);
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves with how the process exited. */
  async terminate(graceMs: number): Promise<StopOutcome> {
    const child = this.child;
    if (!child) return { wasRunning: false, code: null, signal: null, forced: false };
    this.expectingExit = true;
    this.resume();
    this.note('SIGTERM');
    child.kill('SIGTERM');
    let forced = false;
    const timer = setTimeout(() => {
      if (this.child === child) {
        forced = true;
        this.note('still running after SIGTERM: kill -9');
        child.kill('SIGKILL');
      }
    }, graceMs);
    await this.exitPromise;
    clearTimeout(timer);
    return { wasRunning: true, code: child.exitCode, signal: child.signalCode, forced };
  }
}
