/**
 * The `tessera` commands the deployment files tell users to run (comments of docker-compose.yml and
 * deploy/kubernetes/tessera.yaml) work as written against a real cluster: `user add` writes the auth file
 * (its path moved to a temp dir), a 3-node in-process cluster starts with that file (auth on, as in the
 * compose file), and `status --user ...` with the documented password succeeds (its --endpoints, the
 * container's network names, replaced by the test cluster's addresses). With auth on, a call without
 * credentials is refused while /metrics and /healthz still answer without any, as Prometheus and the
 * readiness probes need.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../unit/cli/run-cli';
import { NodeCluster } from '../unit/server/node-cluster';
import { documentedCommands, repoText, type DocumentedCommand } from './deploy-files';

const FILES = ['docker-compose.yml', 'deploy/kubernetes/tessera.yaml'];
const commands = FILES.flatMap((f) => documentedCommands(repoText(f)).map((c) => ({ file: f, ...c })));

let dir = '';
let authFile = '';
let cluster: NodeCluster | null = null;
const userAdds: Array<{ command: DocumentedCommand; result: Awaited<ReturnType<typeof runCliCaptured>> }> = [];

/** `args` with the value of `flag` replaced (the flag must be there). */
function withFlag(args: string[], flag: string, value: string): string[] {
  const i = args.indexOf(flag);
  if (i < 0) throw new Error(`no ${flag} in: ${args.join(' ')}`);
  return [...args.slice(0, i + 1), value, ...args.slice(i + 2)];
}

/** Runs the CLI in process with the command's environment variables set for the call. */
async function run(command: DocumentedCommand, args: string[]) {
  const saved = new Map(Object.keys(command.env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, command.env);
  try {
    return await runCliCaptured(args);
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-documented-'));
  authFile = join(dir, 'auth.json');
  for (const command of commands.filter((c) => c.args[0] === 'user'))
    userAdds.push({ command, result: await run(command, withFlag(command.args, '--auth-file', authFile)) });
  if (userAdds.every((u) => u.result.code === 0))
    cluster = await NodeCluster.start(3, ['--http', '127.0.0.1:0', '--auth-file', authFile]);
  await cluster?.waitForLeader();
}, 30_000);

afterAll(async () => {
  await cluster?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('commands in the deployment files', () => {
  it('documents user add and status in each file', () => {
    for (const file of FILES) {
      const verbs = commands.filter((c) => c.file === file).map((c) => c.args.slice(0, 2).join(' '));
      expect(verbs, file).toContain('user add');
      expect(
        verbs.some((v) => v.startsWith('status')),
        file,
      ).toBe(true);
    }
  });

  it('creates the auth file with user add, as written', () => {
    expect(userAdds.length).toBeGreaterThan(0);
    for (const { command, result } of userAdds) expect(result, command.line).toMatchObject({ code: 0 });
  });

  it('runs every other documented command against the cluster, with auth on', async () => {
    expect(cluster).not.toBeNull();
    const endpoints = (cluster as NodeCluster).endpoints().join(',');
    for (const command of commands.filter((c) => c.args[0] !== 'user')) {
      // Exit 3 (nothing answered in time) is retried, twice at most: on a loaded machine the SDK's first
      // login (a scrypt hash on the node, about 0.6 s alone on this 2-core machine) can outlast the 1 s
      // deadline of the client's background discovery, whose login the command's own calls share.
      let result = await run(command, withFlag(command.args, '--endpoints', endpoints));
      for (let retry = 0; retry < 2 && result.code === 3; retry++) {
        await new Promise((r) => setTimeout(r, 500));
        result = await run(command, withFlag(command.args, '--endpoints', endpoints));
      }
      if (result.code !== 0) throw new Error(`${command.line}: exit ${result.code}: ${result.err}\n${result.out}`);
      expect(result.out).toMatch(/leader/i);
    }
  });

  it('refuses a call without credentials, while /metrics and /healthz need none', async () => {
    const c = cluster as NodeCluster;
    const refused = await runCliCaptured(['put', 'k', 'v', '--endpoints', c.endpoints().join(',')]);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/requires authentication/);
    for (const node of c.nodes.values())
      for (const path of ['/metrics', '/healthz'])
        expect((await fetch(`http://127.0.0.1:${node.httpPort}${path}`)).status, path).toBe(200);
  });
});
