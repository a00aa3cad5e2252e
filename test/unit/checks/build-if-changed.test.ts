/**
 * scripts/build-if-changed.mjs (what `npm run jepsen` runs first): builds when a source changed since the
 * last good build, and not otherwise; a failed build is retried next time. Run on a scratch project whose
 * "build" script counts its runs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'tessera-build-if-changed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setup(): void {
  mkdirSync(join(dir, 'scripts'));
  mkdirSync(join(dir, 'src'));
  copyFileSync(join(__dirname, '../../../scripts/build-if-changed.mjs'), join(dir, 'scripts/build-if-changed.mjs'));
  const build =
    "node -e \"const fs=require('fs');if(fs.existsSync('fail'))process.exit(1);fs.mkdirSync('dist',{recursive:true});fs.appendFileSync('builds','x')\"";
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch', private: true, scripts: { build } }));
  writeFileSync(join(dir, 'src/a.ts'), 'export const a = 1;\n');
}

const run = () => spawnSync('node', ['scripts/build-if-changed.mjs'], { cwd: dir, encoding: 'utf8' });
const builds = (): number => {
  try {
    return readFileSync(join(dir, 'builds'), 'utf8').length;
  } catch {
    return 0;
  }
};
/** A change to `rel` after the last build: the stamp is moved 10 s back, the source to 5 s ago. */
const touch = (rel: string) => {
  const now = Date.now() / 1000;
  utimesSync(join(dir, 'dist/.build-stamp'), now - 10, now - 10);
  utimesSync(join(dir, rel), now - 5, now - 5);
};

describe('build-if-changed', () => {
  it('builds on the first run and after a change, not when nothing changed; a failed build is not stamped', () => {
    setup();
    expect(run().status).toBe(0);
    expect(builds()).toBe(1);
    expect(run().status).toBe(0);
    expect(builds()).toBe(1); // up to date
    touch('src/a.ts');
    expect(execFileSync('node', ['scripts/build-if-changed.mjs', '--dry-run'], { cwd: dir, encoding: 'utf8' })).toBe(
      'build\n',
    );
    expect(run().status).toBe(0);
    expect(builds()).toBe(2);
    // A failing build: exit non-zero and build again next time.
    writeFileSync(join(dir, 'fail'), '');
    touch('src');
    expect(run().status).not.toBe(0);
    rmSync(join(dir, 'fail'));
    expect(run().status).toBe(0);
    expect(builds()).toBe(3);
    expect(run().status).toBe(0);
    expect(builds()).toBe(3);
  });
});
