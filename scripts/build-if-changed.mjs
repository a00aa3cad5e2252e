#!/usr/bin/env node
/**
 * Runs `npm run -s build` only when a source changed since the last build this script saw through
 * (`npm run jepsen -- check FILE` no longer spends a full compile on a one-file check). "Changed": the newest
 * modification time of any file or folder under the build's inputs (src, cmd, jepsen-lite, proto, scripts,
 * the tsconfig files, the package.json files) is newer than the stamp dist/.build-stamp, or dist/ or the stamp is
 * missing. A folder's time changes when a file is added or removed, so deletions count too.
 * Invariant: the stamp is written only after a build that exited 0 (a failed build leaves it stale), with the
 * build's start as its time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const INPUTS = [
  'src',
  'cmd',
  'jepsen-lite',
  'proto',
  'scripts',
  'tsconfig.json',
  'tsconfig.build.json',
  'package.json',
  'packages/client/package.json',
  'packages/client/tsconfig.json',
];
const STAMP = join(root, 'dist', '.build-stamp');

function newestMs(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    newest = Math.max(newest, newestMs(join(path, name)));
  }
  return newest;
}

const sourcesMs = Math.max(...INPUTS.map((p) => newestMs(join(root, p))));
const stampMs = existsSync(STAMP) ? statSync(STAMP).mtimeMs : 0;
if (process.argv.includes('--dry-run')) {
  process.stdout.write(sourcesMs > stampMs ? 'build\n' : 'up to date\n');
  process.exit(0);
}
if (sourcesMs <= stampMs) process.exit(0);
const started = Date.now();
const r = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
// Stamped with the build's start: a source saved while it compiled is newer, so the next run builds again.
writeFileSync(STAMP, `built ${new Date(started).toISOString()}\n`);
utimesSync(STAMP, started / 1000, started / 1000);
