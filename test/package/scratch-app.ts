/**
 * Test helper: the SDK package as a user meets it. packClient() runs `npm pack` on packages/client (which
 * `npm run build` fills) and returns the tarball with its file list; installScratchApp() makes an empty app
 * in a temp folder and `npm install`s the tarball into it from the registry (--prefer-offline: the cache
 * filled by the repo's own install answers first). Child processes get an environment without npm_*
 * variables, so an outer `npm test` does not leak its prefix or workspace into the scratch app's npm.
 * Every child is bounded by a timeout.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const PACKAGE_DIR = join(REPO_ROOT, 'packages', 'client');
const NPM_TIMEOUT_MS = 90_000;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return env;
}

/** Runs a command to completion (never throws on a non-zero exit; the caller asserts on code). */
export function run(cmd: string, args: string[], cwd: string, timeoutMs = NPM_TIMEOUT_MS): Promise<RunResult> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd, env: cleanEnv(), timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === 1 ? `\n${err.message}` : '') });
    });
  });
}

export interface PackResult {
  tarball: string;
  files: string[];
}

export async function packClient(destDir: string): Promise<PackResult> {
  if (!existsSync(join(PACKAGE_DIR, 'dist', 'sdk.js')) || !existsSync(join(PACKAGE_DIR, 'proto', 'kv.proto'))) {
    throw new Error('packages/client is not built: run `npm run build` (scripts/build-client-package.mjs) first');
  }
  const r = await run('npm', ['pack', '--json', '--pack-destination', destDir], PACKAGE_DIR);
  if (r.code !== 0) throw new Error(`npm pack failed (${r.code}): ${r.stderr}`);
  const [info] = JSON.parse(r.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  if (!info) throw new Error(`npm pack printed no package: ${r.stdout}`);
  return { tarball: join(destDir, info.filename), files: info.files.map((f) => f.path).sort() };
}

/** An empty CommonJS app (no "type") in appDir with the tarball installed; returns npm's output on failure. */
export async function installScratchApp(appDir: string, tarball: string): Promise<void> {
  const pkg = { name: 'scratch-app', version: '1.0.0', private: true, license: 'MIT' };
  await writeFile(join(appDir, 'package.json'), JSON.stringify(pkg, null, 2));
  const args = ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock'];
  const r = await run('npm', args, appDir);
  if (r.code !== 0) throw new Error(`npm install of the tarball failed (${r.code}): ${r.stderr}`);
}

export interface TreeInfo {
  bytes: number;
  /** Every installed package, nested ones too, by name (scoped ones as @scope/name). */
  packages: Set<string>;
}

/** Total bytes of the regular files under a node_modules folder (symlinks not followed) and its packages. */
export async function inspectNodeModules(nodeModules: string): Promise<TreeInfo> {
  const info: TreeInfo = { bytes: 0, packages: new Set() };
  const stack = [nodeModules];
  for (let guard = 0; stack.length > 0 && guard < 200_000; guard++) {
    const current = stack.pop()!;
    const parent = current.split(sep).slice(-2);
    const inModules = parent[1] === 'node_modules' || (parent[0] === 'node_modules' && parent[1]!.startsWith('@'));
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const p = join(current, entry.name);
      if (entry.isDirectory()) {
        stack.push(p);
        if (inModules && !entry.name.startsWith('@') && !entry.name.startsWith('.')) {
          info.packages.add(parent[1] === 'node_modules' ? entry.name : `${parent[1]}/${entry.name}`);
        }
      } else if (entry.isFile()) info.bytes += (await stat(p)).size;
    }
  }
  return info;
}

/** The module specifiers that the .d.ts files under dir import (relative ones left out). */
export async function declarationImports(dir: string): Promise<Set<string>> {
  const found = new Set<string>();
  const stack = [dir];
  for (let guard = 0; stack.length > 0 && guard < 10_000; guard++) {
    const current = stack.pop()!;
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const p = join(current, entry.name);
      if (entry.isDirectory()) stack.push(p);
      else if (entry.name.endsWith('.d.ts')) {
        const text = await readFile(p, 'utf8');
        for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]([^'"]+)['"]/g)) {
          if (!m[1]!.startsWith('.')) found.add(m[1]!);
        }
      }
    }
  }
  return found;
}
