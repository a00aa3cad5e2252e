/**
 * Writing `jepsen-lite-history/v1`: one event per line, fields in a fixed order, no other fields.
 * HistoryFileWriter appends synchronously in call order (line order is the real-time order, so events
 * must be written in the order they were observed) with a bounded in-memory buffer.
 */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { assert } from '../../src/base';
import type { HistoryEvent } from './types';

/** One event as a JSON line (without the newline). */
export function formatHistoryEvent(e: HistoryEvent): string {
  const o: Record<string, unknown> = { process: e.process, type: e.type, f: e.f, key: e.key, value: e.value };
  if (e.error !== undefined) o.error = e.error;
  if (e.current !== undefined) o.current = e.current;
  if (e.time !== undefined) o.time = e.time;
  return JSON.stringify(o);
}

/** A whole history as JSON-lines text (each line ends with a newline). */
export function historyToJsonl(events: readonly HistoryEvent[]): string {
  let out = '';
  for (const e of events) out += formatHistoryEvent(e) + '\n';
  return out;
}

export function writeHistoryFile(path: string, events: readonly HistoryEvent[]): void {
  writeFileSync(path, historyToJsonl(events));
}

/** Appends events to a file in call order. Flushes when the buffer passes `bufferBytesMax` and on close. */
export class HistoryFileWriter {
  private fd: number | null;
  private buffer: string[] = [];
  private bufferedBytes = 0;
  private written = 0;

  constructor(
    readonly path: string,
    private readonly bufferBytesMax = 64 * 1024,
  ) {
    this.fd = openSync(path, 'a');
  }

  write(e: HistoryEvent): void {
    assert(this.fd !== null, `history writer for ${this.path} is closed`);
    const line = formatHistoryEvent(e) + '\n';
    this.buffer.push(line);
    this.bufferedBytes += line.length;
    this.written++;
    if (this.bufferedBytes >= this.bufferBytesMax) this.flush();
  }

  /** Number of events written so far (buffered or not). */
  get eventCount(): number {
    return this.written;
  }

  flush(): void {
    if (this.fd === null || this.buffer.length === 0) return;
    writeSync(this.fd, this.buffer.join(''));
    this.buffer = [];
    this.bufferedBytes = 0;
  }

  close(): void {
    if (this.fd === null) return;
    this.flush();
    closeSync(this.fd);
    this.fd = null;
  }
}
