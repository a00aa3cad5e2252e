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
