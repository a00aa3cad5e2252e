/**
 * docker-compose.yml and the Dockerfile cannot be run here (no Docker engine), so this test runs what they
 * run, as plain processes: three `node dist/cmd/tessera.js start` (the image's ENTRYPOINT + CMD)
 * configured only through the TESSERA_* environment variables the compose file sets, and the image's
 * HEALTHCHECK (GET /healthz). Compose's hostnames n1..n3 and in-container ports map to 127.0.0.1 ports of
 * this test's block (a free one, found in beforeAll).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../src/client';
import { ROOT, TESSERA_JS, freeClusterBasePort } from './cluster';

let GRPC_BASE = 0;
let HTTP_BASE = 0;

// A free block of ports for this file, found before the test starts a node.
beforeAll(async () => {
  GRPC_BASE = await freeClusterBasePort();
  HTTP_BASE = GRPC_BASE + 10;
});
const procs: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'tessera-compose-'));
let client: Client | null = null;

/** The `environment:` entries of docker-compose.yml (the anchor and each service), as NAME -> value. */
function composeEnvironment(): { common: Map<string, string>; perService: Map<string, Map<string, string>> } {
  const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  const common = new Map<string, string>();
  const perService = new Map<string, Map<string, string>>();
  let service: string | null = null;
  for (const line of text.split('\n')) {
    const svc = /^ {2}(n\d+):\s*$/.exec(line);
    if (svc) service = svc[1] as string;
    const env = /^\s+(TESSERA_[A-Z_]+):\s*"?([^"]*)"?\s*$/.exec(line);
    if (!env) continue;
    const target = service === null ? common : (perService.get(service) ?? new Map<string, string>());
    if (service !== null) perService.set(service, target);
    target.set(env[1] as string, env[2] as string);
  }
  return { common, perService };
}

function healthz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/healthz', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
  });
}

afterAll(async () => {
  if (client) await client.close();
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('docker-compose configuration, run as plain processes', () => {
  it('starts a 3-node cluster from the compose environment alone; /healthz answers 200; data round-trips', async () => {
    const { common, perService } = composeEnvironment();
    expect([...perService.keys()]).toEqual(['n1', 'n2', 'n3']);
    for (const name of ['TESSERA_LISTEN', 'TESSERA_HTTP', 'TESSERA_PEERS', 'TESSERA_DATA_DIR', 'TESSERA_CLUSTER_TOKEN'])
      expect(common.has(name)).toBe(true);
    // The token is required from the operator's environment (compose's ${VAR:?message} refuses to start without it).
    expect(common.get('TESSERA_CLUSTER_TOKEN')).toMatch(/^\$\{TESSERA_CLUSTER_TOKEN:\?.+\}$/);
    const token = `compose-test-${process.pid}`;
    // Compose addresses (service name, in-container port) -> this machine's loopback ports.
    const hostOf = (name: string): string => `127.0.0.1:${GRPC_BASE + Number(name.slice(1))}`;
    const peers = (common.get('TESSERA_PEERS') as string).replace(/n(\d+):7001/g, (_m, id: string) => hostOf(`n${id}`));
    expect(peers).toBe(`1=127.0.0.1:${GRPC_BASE + 1},2=127.0.0.1:${GRPC_BASE + 2},3=127.0.0.1:${GRPC_BASE + 3}`);

    for (const [name, own] of perService) {
      const id = Number(own.get('TESSERA_ID'));
      expect(id).toBe(Number(name.slice(1)));
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        TESSERA_ID: String(id),
        TESSERA_LISTEN: hostOf(name),
        TESSERA_HTTP: `127.0.0.1:${HTTP_BASE + id}`,
        TESSERA_PEERS: peers,
        TESSERA_DATA_DIR: join(dir, name),
        TESSERA_CLUSTER_TOKEN: token,
      };
      // The image's ENTRYPOINT ["node", "dist/cmd/tessera.js"] with CMD ["start"].
      const p = spawn(process.execPath, [TESSERA_JS, 'start'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
      procs.push(p);
    }

    const deadline = Date.now() + 30_000;
    let codes: number[] = [];
    while (Date.now() < deadline) {
      codes = await Promise.all([1, 2, 3].map((id) => healthz(HTTP_BASE + id)));
      if (codes.every((c) => c === 200)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(codes).toEqual([200, 200, 200]);

    client = new Client({ endpoints: [1, 2, 3].map((id) => `127.0.0.1:${GRPC_BASE + id}`) });
    await client.put('compose/hello', 'world');
    expect((await client.get('compose/hello'))?.toString()).toBe('world');
  }, 60_000);
});
