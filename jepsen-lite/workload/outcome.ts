/**
 * Turns an SDK error into a history completion, conservatively: an operation whose effect is unknown is
 * `info`, never `fail`. Only a definite rejection is `fail`: INVALID_ARGUMENT (rejected before it was
 * proposed), or an error the SDK marks `indeterminate: false` that is not a timeout. Reads change
 * nothing, so a failed read is always `fail`.
 */
import { isTesseraError } from '../../src/base';
import type { Completion } from './recorder';

export function errorName(e: unknown): string {
  if (isTesseraError(e)) return e.code.toLowerCase().replace(/_/g, '-');
  if (e instanceof HarnessTimeout) return 'timed-out';
  return 'unknown-error';
}

export class HarnessTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'HarnessTimeout';
  }
}

export function completionForError(e: unknown, readOnly: boolean): Completion {
  const error = errorName(e);
  if (readOnly) return { type: 'fail', error };
  if (isTesseraError(e)) {
    if (e.code === 'INVALID_ARGUMENT') return { type: 'fail', error };
    const timeoutLike = e.code === 'DEADLINE_EXCEEDED';
    if (e.details.indeterminate === false && !timeoutLike) return { type: 'fail', error };
  }
  return { type: 'info', error };
}

/** Races an operation against a harness-level timeout (a backstop for the SDK's own deadline). */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new HarnessTimeout(ms)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
