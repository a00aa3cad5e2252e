#!/usr/bin/env node
// Builds the SDK package @tessera/client (packages/client) from the same sources as the server: compiles
// src/sdk.ts (and what it imports: src/client, src/base, src/shard) with packages/client/tsconfig.json
// into packages/client/dist, and copies the public API's proto files (kv, admin, auth; not the peer
// protocol raft.proto) into packages/client/proto, where src/client/proto.ts finds them by walking up from
// dist/client. Both outputs are generated (ignored by git) and rebuilt from scratch each time, so a
// deleted source never lingers in the packed tarball. tsc writes into dist-next, which then replaces dist
// in one rename: the root's type check (src/index.ts imports '@tessera/client') never sees dist missing
// for the length of a compile, and a failed compile leaves the previous dist in place.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = join(root, 'packages', 'client');
const PROTOS = ['kv.proto', 'admin.proto', 'auth.proto'];

const next = join(pkg, 'dist-next');
rmSync(next, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const args = [tsc, '-p', join(pkg, 'tsconfig.json'), '--outDir', next];
const run = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (run.status !== 0) {
  rmSync(next, { recursive: true, force: true });
  console.error(`build-client-package: tsc failed (exit ${run.status ?? run.signal})`);
  process.exit(1);
}
rmSync(join(pkg, 'dist'), { recursive: true, force: true });
renameSync(next, join(pkg, 'dist'));

rmSync(join(pkg, 'proto'), { recursive: true, force: true });
mkdirSync(join(pkg, 'proto'), { recursive: true });
for (const name of PROTOS) copyFileSync(join(root, 'proto', name), join(pkg, 'proto', name));
