/**
 * Counting what became of an attack's abusers, and a timer that bounds each of them: the attack files
 * share it so every pattern reports the same outcome names (catalogue.ts) and no abuser waits forever.
 */
import type { AbuserOutcome, AttackReport, OverloadAttackName } from './catalogue';

export class Tally {
  readonly outcomes: Partial<Record<AbuserOutcome, number>> = {};
  readonly codes = new Map<string, number>();
  abusers = 0;

  /** One abuser ended with `outcome`; `code` (a status name, an HTTP status, an errno) is counted too. */
  add(outcome: AbuserOutcome, code: string): void {
    this.abusers++;
    this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
  }

  codesText(): string {
    return [...this.codes]
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c} x${n}`)
      .join(', ');
  }

  report(attack: OverloadAttackName, startMs: number, notes: string[]): AttackReport {
    return {
      attack,
      abusers: this.abusers,
      outcomes: { ...this.outcomes },
      notes: [`codes: ${this.codesText() || 'none'}`, ...notes],
      elapsedMs: Math.round(Date.now() - startMs),
    };
  }
}

/** Resolves `p`, or `onTimeout()` after `ms` (the timer never keeps the process alive). */
export function bounded<T>(p: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    let done = false;
    const t = setTimeout(() => {
      if (done) return;
      done = true;
      resolve(onTimeout());
    }, ms);
    t.unref();
    p.then(
      (v) => {
        if (done) return;
        done = true;
        clearTimeout(t);
        resolve(v);
      },
      () => {
        if (done) return;
        done = true;
        clearTimeout(t);
        resolve(onTimeout());
      },
    );
  });
}

/** Runs `count` tasks, at most `concurrency` at a time; resolves when all have settled. */
export async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await task(i).catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
