/**
 * The SDK package @tessera/client as a user meets it: `npm pack` of packages/client (built by
 * `npm run build`), the tarball's file list (only dist and the public protos), an install into a scratch
 * app from the tarball (its size and that no server dependency comes along), ESM and CommonJS imports,
 * a strict nodenext type check against the installed declarations, and a put/get round trip through the
 * installed package against a live in-process node.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeCluster } from '../unit/server/node-cluster';
import {
  REPO_ROOT,
  declarationImports,
  inspectNodeModules,
  installScratchApp,
  packClient,
  run,
  type PackResult,
  type RunResult,
} from './scratch-app';
import { CJS_CHECK, ESM_CHECK, ROUND_TRIP, TS_CJS, TS_ESM, tsconfig } from './scratch-files';

/** The issue measured 37 MB for an install of the whole server package; the SDK alone must be far smaller. */
const INSTALL_BOUND_BYTES = 15 * 1024 * 1024;
const SERVER_ONLY_DEPENDENCIES = ['level', 'classic-level', 'pino', 'prom-client', 'msgpackr', '@node-rs/crc32'];

/** What the package's declarations may import besides node:* and their own files. */
const PACKAGE_DEPENDENCIES = ['@grpc/grpc-js', '@grpc/proto-loader'];

let work = '';
let app = '';
let packed: PackResult;

function jsonLine(r: RunResult): Record<string, unknown> {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tessera-sdk-package-'));
  app = join(work, 'app');
  packed = await packClient(work);
  await mkdir(app);
  await installScratchApp(app, packed.tarball);
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('@tessera/client packed and installed into a scratch app', () => {
  it('packs only the compiled SDK (client, base, shard) and the public protos', () => {
    const allowed =
      /^(package\.json|README\.md|dist\/(client|base|shard)\/[\w/.-]+\.(js|d\.ts)|dist\/sdk\.(js|d\.ts)|proto\/(kv|admin|auth)\.proto)$/;
    expect(packed.files.filter((f) => !allowed.test(f))).toEqual([]);
    expect(packed.files).toEqual(expect.arrayContaining(['dist/sdk.js', 'dist/sdk.d.ts', 'proto/kv.proto']));
    expect(packed.files.some((f) => /(^|\/)(test|\.ci|fixtures|server|storage)(\/|$)/.test(f))).toBe(false);
    expect(packed.files.length).toBeLessThan(150);
  });

  it('installs small and without any server dependency', async () => {
    const tree = await inspectNodeModules(join(app, 'node_modules'));
    console.log(`@tessera/client install: ${(tree.bytes / 1024 / 1024).toFixed(1)} MB, ${tree.packages.size} packages`);
    expect(tree.packages.has('@tessera/client')).toBe(true);
    expect(tree.packages.has('@grpc/grpc-js')).toBe(true);
    expect(SERVER_ONLY_DEPENDENCIES.filter((d) => tree.packages.has(d))).toEqual([]);
    expect(tree.bytes).toBeLessThan(INSTALL_BOUND_BYTES);
  });

  it('imports from ESM (named exports) and from CommonJS, with one TesseraError class', async () => {
    await writeFile(join(app, 'check.mjs'), ESM_CHECK);
    await writeFile(join(app, 'check.js'), CJS_CHECK);
    const esm = jsonLine(await run(process.execPath, ['check.mjs'], app, 20_000));
    expect(esm).toEqual({
      client: 'function',
      sameAsRequire: true,
      instanceOf: true,
      isTesseraError: true,
      code: 'CONFIG',
    });
    const cjs = jsonLine(await run(process.execPath, ['check.js'], app, 20_000));
    expect(cjs).toEqual({ client: 'function', instanceOf: true, isTesseraError: true, code: 'CONFIG' });
  });

  it('type-checks a TypeScript app (ESM and CommonJS files) under strict nodenext', async () => {
    await writeFile(join(app, 'tsconfig.json'), tsconfig(join(REPO_ROOT, 'node_modules', '@types')));
    await writeFile(join(app, 'esm.mts'), TS_ESM);
    await writeFile(join(app, 'cjs.ts'), TS_CJS);
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = await run(process.execPath, [tsc, '-p', app], app, 60_000);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
    const imports = await declarationImports(join(app, 'node_modules', '@tessera', 'client', 'dist'));
    const foreign = [...imports].filter((m) => !m.startsWith('node:') && !PACKAGE_DEPENDENCIES.includes(m));
    expect(foreign).toEqual([]);
  }, 60_000);

  it('puts and gets a key on a live node through the installed package', async () => {
    const cluster = await NodeCluster.start(1);
    try {
      await cluster.waitForLeader();
      await writeFile(join(app, 'round-trip.mjs'), ROUND_TRIP);
      const out = jsonLine(await run(process.execPath, ['round-trip.mjs', cluster.endpoints()[0]!], app, 20_000));
      expect(out).toEqual({ value: 'hello from the package', missing: null });
    } finally {
      await cluster.close();
    }
  }, 40_000);
});
