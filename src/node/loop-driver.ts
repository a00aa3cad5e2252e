/**
 * Drivers of the ready loop's task (ready-loop.ts). The loop is a generator that yields what it waits for
 * (a LoopWait): nothing, a promise (a LevelDB batch, a yield to I/O), a Resumable (the simulator's
 * virtual I/O), or a LoopJoin of sub-tasks (one per group). A driver resumes it once that settled:
 * - driveWithPromises: NodeHost's, with await (a rejection ends the task with that error);
 * - driveNow: the simulator's, fully synchronous: a settled wait is passed at once, a pending Resumable
 *   suspends the task until the simulator settles it (a crashed node's never settles), and an error the
 *   task throws reaches `end` on the caller's stack (so a checker failure surfaces where it happened).
 * Invariant: `end` is called exactly once per task, after the task's last step ran.
 */

export class LoopJoin {
  constructor(readonly tasks: LoopTask[]) {}
}

/** A wait the simulator settles itself (virtual time): no promise, no microtask. */
export interface Resumable {
  readonly settled: boolean;
  /** Calls `fn` once when settled (at once if it already is). */
  whenSettled(fn: () => void): void;
}

export type LoopWait = PromiseLike<unknown> | Resumable | LoopJoin | undefined;
export type LoopTask = Generator<LoopWait, void, void>;
/** Called once when a task ends: `failed` with the error it threw or the wait that rejected. */
export type LoopEnd = (failed: boolean, error: unknown) => void;
export type LoopDriver = (task: LoopTask, end: LoopEnd) => void;

function isResumable(w: object): w is Resumable {
  return typeof (w as Resumable).whenSettled === 'function';
}

/** Runs a task with await; resolves when it ended, rejects with what it threw or what rejected. */
export async function runWithPromises(task: LoopTask): Promise<void> {
  for (let r = task.next(); r.done !== true; r = task.next()) {
    const w = r.value;
    if (w === undefined) continue;
    if (w instanceof LoopJoin) await Promise.all(w.tasks.map(runWithPromises));
    else if (isResumable(w)) await new Promise<void>((resolve) => w.whenSettled(resolve));
    else await w;
  }
}

export const driveWithPromises: LoopDriver = (task, end) => {
  runWithPromises(task).then(
    () => end(false, undefined),
    (e: unknown) => end(true, e),
  );
};

/** Synchronous driver (the simulator): sub-tasks of a join run one after the other. */
export const driveNow: LoopDriver = (task, end) => {
  const step = (): void => {
    for (;;) {
      let r: IteratorResult<LoopWait, void>;
      try {
        r = task.next();
      } catch (e) {
        end(true, e);
        return;
      }
      if (r.done === true) {
        end(false, undefined);
        return;
      }
      const w = r.value;
      if (w === undefined) continue;
      if (w instanceof LoopJoin) {
        if (joinNow(w.tasks, step, end)) continue;
        return;
      }
      if (!isResumable(w)) {
        end(true, new Error('driveNow: a task waited on a promise (the synchronous driver settles only Resumables)'));
        return;
      }
      if (w.settled) continue;
      w.whenSettled(step);
      return;
    }
  };
  step();
};

/** Runs the sub-tasks in order; true if all ended synchronously, else `resume` runs once they did. */
function joinNow(tasks: LoopTask[], resume: () => void, end: LoopEnd): boolean {
  let calling = true;
  let endedNow = false;
  const next = (i: number): void => {
    if (i === tasks.length) {
      if (calling) endedNow = true;
      else resume();
      return;
    }
    driveNow(tasks[i] as LoopTask, (failed, error) => (failed ? end(true, error) : next(i + 1)));
  };
  next(0);
  calling = false;
  return endedNow;
}
