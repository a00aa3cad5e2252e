/** Helpers for the checker tests: terse history construction and the project's paths. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { EventType, EventValue, HistoryEvent, OpFunction, Scalar } from '../history';

/** The project root: the nearest folder upwards from the working directory with tessera's package.json. */
function findProjectRoot(): string {
  let dir = process.cwd();
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tessera') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no tessera package.json above ${process.cwd()}`);
    dir = up;
  }
}

export const projectRoot = findProjectRoot();
export const fixturesDir = join(projectRoot, 'test/fixtures/linearizability');
/**
 * ../shared/linearizability-vectors beside the clone (CI has it there), or beside the local repository the
 * clone was made from (a scratch clone elsewhere, e.g. `git clone . /tmp/x`, still finds it).
 */
function findSharedVectorsDir(): string {
  const besideClone = join(projectRoot, '..', 'shared', 'linearizability-vectors');
  if (existsSync(join(besideClone, 'manifest.json'))) return besideClone;
  let origin = '';
  try {
    origin = execFileSync('git', ['config', '--get', 'remote.origin.url'], {
      cwd: projectRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return besideClone;
  }
  const originPath = origin.startsWith('file://') ? origin.slice('file://'.length) : origin;
  if (!isAbsolute(originPath)) return besideClone;
  const besideOrigin = join(originPath, '..', 'shared', 'linearizability-vectors');
  return existsSync(join(besideOrigin, 'manifest.json')) ? besideOrigin : besideClone;
}

export const sharedVectorsDir = findSharedVectorsDir();
export const sharedVectorsPresent = existsSync(join(sharedVectorsDir, 'manifest.json'));

/** One event; key defaults to "k". */
export function ev(
  process: number,
  type: EventType,
  f: OpFunction,
  value: EventValue,
  extra: Partial<HistoryEvent> = {},
): HistoryEvent {
  return { process, type, f, key: 'k', value, ...extra };
}

/** An op whose invoke and completion are adjacent (so it precedes everything after it). */
export function seq(
  process: number,
  f: OpFunction,
  arg: EventValue,
  result: EventValue = arg,
  type: EventType = 'ok',
  extra: Partial<HistoryEvent> = {},
): HistoryEvent[] {
  const key = extra.key ?? 'k';
  return [
    { process, type: 'invoke', f, key, value: f === 'get' || f === 'read' ? null : arg },
    { process, type, f, key, value: result, ...extra },
  ];
}

export const put = (p: number, v: Scalar, extra: Partial<HistoryEvent> = {}): HistoryEvent[] =>
  seq(p, 'put', v, v, 'ok', extra);
export const get = (p: number, v: Scalar, extra: Partial<HistoryEvent> = {}): HistoryEvent[] =>
  seq(p, 'get', null, v, 'ok', extra);
