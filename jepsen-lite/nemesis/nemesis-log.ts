/**
 * nemesis.jsonl: one JSON object per nemesis step, with the same monotonic time base as the history
 * (`time`, ns since the run started) so the report can shade fault intervals.
 */
import { appendFileSync, writeFileSync } from 'node:fs';

export interface NemesisEvent {
  time: number;
  type: 'start' | 'stop' | 'instant' | 'error' | 'heal';
  kind: string;
  description: string;
  nodes?: number[];
  error?: string;
  /** A check the fault made of the cluster (e.g. a live majority elects a leader in time): its outcome. The
   * run's `availability` verdict fails on any 'failed'. */
  check?: 'ok' | 'failed';
  /** An instant step that got no answer in time (e.g. a replica move): it may or may not have happened. */
  indeterminate?: boolean;
}

export class NemesisLog {
  readonly events: NemesisEvent[] = [];
  constructor(
    private readonly file: string | null,
    private readonly nowNs: () => number,
  ) {
    if (file) writeFileSync(file, '');
  }

  write(e: Omit<NemesisEvent, 'time'>): NemesisEvent {
    const ev: NemesisEvent = { time: this.nowNs(), ...e };
    this.events.push(ev);
    if (this.file) appendFileSync(this.file, JSON.stringify(ev) + '\n');
    return ev;
  }
}
