import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The purity check of `npm run check` must fail when the deterministic core touches the wall clock,
// timers, ambient randomness, the process or Node built-ins, and pass on clean code.
// Each run of the script loads the TypeScript compiler (about a second on the CI machine), so every bad
// case lives in one tree, in a file of its own, checked by a single run: each case must be reported on
// its own file's line, with its own message (a report names the file, so cases cannot cover each other).
const script = resolve(__dirname, '../../../scripts/check-imports.mjs');
const roots: string[] = [];

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'tessera-purity-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function check(root: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [script, '--root', root], { encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}

afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

describe('check-imports (pure core)', () => {
  it('passes on the real tree', () => {
    expect(() => execFileSync(process.execPath, [script], { encoding: 'utf8' })).not.toThrow();
  });

  it('passes on clean core code that mentions forbidden names only in strings, comments and properties', () => {
    const root = tree({
      'src/raft/ok.ts':
        "import { assert } from '../base';\n// Date.now() in a comment\nexport const s = 'setTimeout';\nexport const o = { process: 1 };\nexport function f(x: { Date: number }) { assert(true, 'x'); return x.Date; }\n",
    });
    expect(check(root).status).toBe(0);
  });

  const bad: [string, string, string][] = [
    ['Date.now()', 'export const t = Date.now();\n', "uses 'Date'"],
    ['setTimeout', 'export function f() { setTimeout(() => 0, 1); }\n', "uses 'setTimeout'"],
    ['Math.random', 'export const r = Math.random();\n', 'Math.random'],
    ['process', 'export const e = process.env;\n', "uses 'process'"],
    ['node:* import', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", "imports 'node:fs'"],
    ['npm import', "import { pack } from 'msgpackr';\nexport const p = pack;\n", "imports 'msgpackr'"],
    ['async', 'export async function f() { return 1; }\n', "'async'"],
  ];
  const dirs = ['raft', 'shard'];
  const fileOf = (dir: string, i: number): string => `src/${dir}/bad-${i}.ts`;
  let checked: { status: number | null; lines: string[] } | null = null;
  /** One run of the script over every bad case in both directories (made on first use). */
  const checkAllBad = (): { status: number | null; lines: string[] } => {
    if (checked === null) {
      const files: Record<string, string> = {};
      for (const dir of dirs) bad.forEach(([, code], i) => (files[fileOf(dir, i)] = code));
      const r = check(tree(files));
      checked = { status: r.status, lines: r.output.split('\n') };
    }
    return checked;
  };
  bad.forEach(([name, , message], i) => {
    it(`fails on ${name} in src/raft and in src/shard`, () => {
      const r = checkAllBad();
      expect(r.status).toBe(1);
      for (const dir of dirs) {
        const reported = r.lines.filter((l) => l.includes(`${fileOf(dir, i)}:1`));
        expect(reported.join('\n'), `what the check said about ${fileOf(dir, i)}`).toContain(message);
      }
    });
  });
});
