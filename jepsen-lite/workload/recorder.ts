/**
 * Records the run's history: every invoke and completion, in the order the harness observed them (line
 * order is real-time order), to history.jsonl and in memory (for the checkers and the report).
 * `time` is monotonic nanoseconds since the run started (process.hrtime.bigint()).
 *
 * Invariants: a process has at most one outstanding op; process ids are never reused after `info`
 * (the worker asks for a fresh one); time never decreases.
 */
import { HistoryFileWriter, type EventValue, type HistoryEvent, type OpFunction, type Scalar } from '../history';
import { assert } from '../../src/base';

export interface Invocation {
  process: number;
  f: OpFunction;
  key: string;
  value: EventValue;
}

export type Completion =
  | { type: 'ok'; value: EventValue }
  | { type: 'fail'; error: string; current?: Scalar }
  | { type: 'info'; error: string };

export class HistoryRecorder {
  readonly events: HistoryEvent[] = [];
  private readonly outstanding = new Map<number, Invocation>();
  private nextProcess = 0;
  private readonly writer: HistoryFileWriter | null;

  constructor(
    file: string | null,
    private readonly nowNs: () => number,
  ) {
    this.writer = file ? new HistoryFileWriter(file) : null;
  }

  /** A process id never handed out before. */
  newProcess(): number {
    return this.nextProcess++;
  }

  private emit(e: HistoryEvent): void {
    this.events.push(e);
    this.writer?.write(e);
  }

  invoke(inv: Invocation): void {
    assert(!this.outstanding.has(inv.process), `process ${inv.process} already has an outstanding op`);
    this.outstanding.set(inv.process, inv);
    this.emit({ process: inv.process, type: 'invoke', f: inv.f, key: inv.key, value: inv.value, time: this.nowNs() });
  }

  complete(process: number, c: Completion): void {
    const inv = this.outstanding.get(process);
    assert(inv !== undefined, `process ${process} has no outstanding op`);
    this.outstanding.delete(process);
    const base = { process, f: inv.f, key: inv.key, time: this.nowNs() };
    switch (c.type) {
      case 'ok':
        this.emit({ ...base, type: 'ok', value: c.value });
        break;
      case 'fail': {
        const e: HistoryEvent = { ...base, type: 'fail', value: failValue(inv), error: c.error };
        if (c.current !== undefined) e.current = c.current;
        this.emit(e);
        break;
      }
      case 'info':
        this.emit({ ...base, type: 'info', value: failValue(inv), error: c.error });
        break;
    }
  }

  get outstandingCount(): number {
    return this.outstanding.size;
  }

  close(): void {
    this.writer?.close();
  }
}

/** fail/info completions repeat the invoke's argument; reads carry null. */
function failValue(inv: Invocation): EventValue {
  return inv.f === 'get' || inv.f === 'read' ? null : inv.value;
}
