/**
 * docker-compose.yml, the Dockerfile and the monitoring files they mount, read as their tools read them (no
 * Docker engine here): the services and their ports and volumes; each node's environment through the
 * node's real configuration parser; Prometheus scraping every node's HTTP port (`promtool check config`
 * when Debian's prometheus package is installed); Grafana's provisioned datasource and dashboard.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPTIONS, envName, loadNodeConfig, type NodeConfig } from '../../src/config';
import { DASHBOARD_PATH, loadDashboard } from './promql';
import {
  ROOT,
  asArray,
  asRecord,
  dockerfileCommand,
  interpolate,
  loadCompose,
  loadYaml,
  repoText,
  type Yaml,
} from './deploy-files';

const NODES = ['n1', 'n2', 'n3'];
const PROMTOOL = '/usr/bin/promtool';

const compose = loadCompose();
const services = asRecord(compose.services, 'services');
const service = (name: string): Yaml => asRecord(services[name], `service ${name}`);

/** A service's environment as the container sees it, with compose's interpolation applied. */
function environmentOf(name: string, vars: Record<string, string>): Record<string, string> {
  const env = asRecord(service(name).environment ?? {}, `${name}.environment`);
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(String(v), vars)]));
}

/** The node's argv after `tessera start`: the service's command, else the image's CMD. */
function startArgsOf(name: string): string[] {
  const { entrypoint, cmd } = dockerfileCommand();
  expect(entrypoint).toEqual(['node', 'dist/cmd/tessera.js']);
  const command = service(name).command === undefined ? cmd : asArray(service(name).command, `${name}.command`);
  expect(command[0], `${name}: the container runs \`tessera start\``).toBe('start');
  return command.slice(1).map(String);
}

function nodeConfigOf(name: string): NodeConfig {
  return loadNodeConfig({ argv: startArgsOf(name), env: environmentOf(name, { TESSERA_CLUSTER_TOKEN: 'secret' }) });
}

/** "HOST:CONTAINER" or "IP:HOST:CONTAINER" -> { host, container } */
function portMapping(p: unknown): { host: string; container: number } {
  const parts = String(p).split(':');
  return { host: parts.slice(0, -1).join(':'), container: Number(parts[parts.length - 1]) };
}

/** Short-syntax "SOURCE:TARGET[:ro]" or the long syntax, as { source, target, readOnly }. */
function mounts(name: string): Array<{ source: string; target: string; readOnly: boolean; type: string }> {
  return asArray(service(name).volumes ?? [], `${name}.volumes`).map((v) => {
    if (typeof v === 'string') {
      const [source, target, mode] = v.split(':');
      const type = /^[./]/.test(source as string) ? 'bind' : 'volume';
      return { source: source as string, target: target as string, readOnly: mode === 'ro', type };
    }
    const m = asRecord(v, `${name} volume`);
    return { source: String(m.source), target: String(m.target), readOnly: m.read_only === true, type: String(m.type) };
  });
}

describe('docker-compose.yml: the nodes', () => {
  it('has three nodes, Prometheus and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual([...NODES, 'grafana', 'prometheus'].sort());
  });

  it('configures every node through the real configuration parser', () => {
    const known = new Set(OPTIONS.map((o) => envName(o.key)));
    for (const [i, name] of NODES.entries()) {
      const env = environmentOf(name, { TESSERA_CLUSTER_TOKEN: 'secret' });
      for (const k of Object.keys(env)) expect(known, `${name}: ${k} is not a node option`).toContain(k);
      const c = nodeConfigOf(name);
      expect(c.id).toBe(i + 1);
      expect(c.clusterToken).toBe('secret');
      expect([...c.peers.entries()]).toEqual(NODES.map((n, j) => [j + 1, `${n}:${c.listen.port}`]));
      expect(c.advertiseAddress).toBe(`${String(service(name).hostname)}:${c.listen.port}`);
      expect(c.http).not.toBeNull();
    }
  });

  it('refuses to start without TESSERA_CLUSTER_TOKEN, as docker compose does', () => {
    expect(() => environmentOf('n1', {})).toThrow(/TESSERA_CLUSTER_TOKEN.*secret shared by all nodes/);
  });

  it('turns auth on: every node reads the same auth file, mounted read-only and kept out of git', () => {
    for (const name of NODES) {
      const file = environmentOf(name, { TESSERA_CLUSTER_TOKEN: 'x' }).TESSERA_AUTH_FILE;
      const mount = mounts(name).find((m) => m.target === file);
      expect(mount, `${name}: ${file} is mounted`).toMatchObject({
        source: './deploy/auth/auth.json',
        readOnly: true,
        type: 'bind',
      });
      const volume = asArray(service(name).volumes, 'volumes').find((v) => typeof v === 'object') as Yaml;
      expect(asRecord(volume.bind, 'bind').create_host_path).toBe(false);
    }
    expect(repoText('deploy/auth/.gitignore').split('\n')).toContain('auth.json');
    expect(repoText('docker-compose.yml')).toMatch(
      /tessera\.js user add \S+ --role admin --auth-file deploy\/auth\/auth.json/,
    );
  });

  it('publishes each node gRPC and HTTP port on distinct host ports, and gives it its own data volume', () => {
    const hostPorts = new Set<string>();
    for (const name of NODES) {
      const c = nodeConfigOf(name);
      const ports = asArray(service(name).ports, `${name}.ports`).map(portMapping);
      expect(ports.map((p) => p.container).sort()).toEqual([c.listen.port, c.http?.port].sort());
      for (const p of ports) {
        expect(hostPorts.has(p.host), `host port ${p.host} published twice`).toBe(false);
        hostPorts.add(p.host);
      }
      const data = mounts(name).find((m) => m.target === c.dataDir);
      expect(data?.type, `${name}: ${c.dataDir} is a named volume`).toBe('volume');
      expect(Object.keys(asRecord(compose.volumes, 'volumes'))).toContain(data?.source);
    }
    expect(new Set(NODES.map((n) => mounts(n).find((m) => m.type === 'volume')?.source)).size).toBe(NODES.length);
  });

  it('gives a stopping node time to drain its leaderships before docker kills it', () => {
    for (const name of NODES) {
      const grace = /^(\d+)s$/.exec(String(service(name).stop_grace_period));
      expect(service(name).stop_signal).toBe('SIGTERM');
      expect(Number(grace?.[1]) * 1000).toBeGreaterThanOrEqual(nodeConfigOf(name).shutdownDrainMs + 5000);
    }
  });

  it('matches the Dockerfile: exposed ports, health check port, data volume', () => {
    const dockerfile = repoText('Dockerfile');
    const c = nodeConfigOf('n1');
    const exposed = (/^EXPOSE\s+(.*)$/m.exec(dockerfile)?.[1] ?? '').split(/\s+/).map(Number);
    expect(exposed.sort()).toEqual([c.listen.port, c.http?.port].sort());
    expect(dockerfile).toContain(`http://127.0.0.1:${c.http?.port}/healthz`);
    expect(dockerfile).toContain(`VOLUME ["${c.dataDir}"]`);
  });

  it('builds the image the way package.json builds (compiled folders, build scripts, workspaces)', () => {
    const stages = repoText('Dockerfile')
      .split(/^FROM /m)
      .slice(1);
    expect(stages).toHaveLength(2);
    const [build, runtime] = stages.map((stage) =>
      [...stage.matchAll(/^COPY\s+(?:--from=\S+\s+)?(.+)\s+\S+$/gm)].flatMap((m) =>
        (m[1] as string).split(/\s+/).map((src) => src.replace(/^\/app\//, '').replace(/\/$/, '')),
      ),
    ) as [string[], string[]];
    const covers = (sources: string[], path: string) => sources.some((s) => path === s || path.startsWith(s + '/'));
    expect(stages[0]).toMatch(/npm run build/);
    const tsBuild = JSON.parse(repoText('tsconfig.build.json')) as { include: string[] };
    const pkg = JSON.parse(repoText('package.json')) as { workspaces?: string[]; scripts: Record<string, string> };
    const needed = [...tsBuild.include, 'package.json', 'package-lock.json'];
    for (const m of pkg.scripts.build?.matchAll(/\b(scripts\/[\w./-]+)/g) ?? []) needed.push(m[1] as string);
    for (const w of pkg.workspaces ?? []) {
      needed.push(`${w}/package.json`);
      if (existsSync(join(ROOT, w, 'tsconfig.json'))) needed.push(`${w}/tsconfig.json`);
      // The runtime installs the workspace (a link in node_modules) and needs what the build made of it.
      const main = String((JSON.parse(repoText(`${w}/package.json`)) as { main?: string }).main ?? '');
      for (const path of [`${w}/package.json`, join(w, main)])
        expect(covers(runtime, path), `runtime: ${path}`).toBe(true);
    }
    for (const path of needed) expect(covers(build, path), `build stage copies ${path}`).toBe(true);
    expect(covers(runtime, 'dist/cmd/tessera.js') && covers(runtime, 'proto/kv.proto')).toBe(true);
  });
});

describe('docker-compose.yml: Prometheus and Grafana', () => {
  it('scrapes every node HTTP port, with config and rules from deploy/prometheus', () => {
    const prom = service('prometheus');
    const dir = mounts('prometheus').find((m) => m.target === '/etc/prometheus');
    expect(dir).toMatchObject({ source: './deploy/prometheus', readOnly: true });
    expect(asArray(prom.command, 'prometheus.command')).toContain('--config.file=/etc/prometheus/prometheus.yml');
    const config = loadYaml('deploy/prometheus/prometheus.yml');
    for (const rules of asArray(config.rule_files, 'rule_files'))
      expect(existsSync(join(ROOT, 'deploy/prometheus', String(rules))), String(rules)).toBe(true);
    const jobs = asArray(config.scrape_configs, 'scrape_configs').map((j) => asRecord(j, 'job'));
    const targets = jobs.flatMap((j) =>
      asArray(j.static_configs, 'static_configs').flatMap((s) => asArray(asRecord(s, 's').targets, 'targets')),
    );
    expect(targets).toEqual(NODES.map((n) => `${String(service(n).hostname)}:${nodeConfigOf(n).http?.port}`));
    expect(jobs.map((j) => j.metrics_path ?? '/metrics')).toEqual(['/metrics']);
    expect(asArray(prom.ports, 'ports').map(portMapping)).toEqual([{ host: '127.0.0.1:9090', container: 9090 }]);
  });

  const noPromtool = existsSync(PROMTOOL) ? '' : ` (skipped: no ${PROMTOOL}; apt-get install -y prometheus)`;
  it.skipIf(noPromtool !== '')(`passes promtool check config${noPromtool}`, () => {
    const out = execFileSync(PROMTOOL, ['check', 'config', 'deploy/prometheus/prometheus.yml'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(out).toMatch(/SUCCESS: 1 rule files found[\s\S]*SUCCESS: \d+ rules found/);
  });

  it('provisions the Prometheus datasource and the dashboard into Grafana', () => {
    const byTarget = new Map(mounts('grafana').map((m) => [m.target, m]));
    expect(byTarget.get('/etc/grafana/provisioning')).toMatchObject({
      source: './deploy/grafana/provisioning',
      readOnly: true,
    });
    const sources = asArray(loadYaml('deploy/grafana/provisioning/datasources/prometheus.yml').datasources, 'ds');
    const ds = asRecord(sources[0], 'datasource');
    expect(ds).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    const providers = asArray(loadYaml('deploy/grafana/provisioning/dashboards/tessera.yml').providers, 'providers');
    const path = String(asRecord(asRecord(providers[0], 'provider').options, 'options').path);
    const dashboards = byTarget.get(path);
    expect(dashboards, `a host folder is mounted at ${path}`).toBeDefined();
    expect(readdirSync(join(ROOT, dashboards?.source ?? ''))).toContain(DASHBOARD_PATH.split('/').pop());
    // Every panel and target uses the provisioned datasource.
    const uids = new Set<unknown>();
    const visit = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(visit);
      else if (typeof v === 'object' && v !== null)
        for (const [k, x] of Object.entries(v)) k === 'datasource' ? uids.add(asRecord(x, k).uid) : visit(x);
    };
    visit(loadDashboard());
    expect([...uids]).toEqual([ds.uid]);
    expect(asArray(service('grafana').ports, 'ports').map(portMapping)).toEqual([
      { host: '127.0.0.1:3000', container: 3000 },
    ]);
  });
});

describe('deploy/grafana/dashboards/tessera.json', () => {
  it('lays out its panels on the 24-column grid without overlaps, with unique ids and query refIds', () => {
    const panels = asArray(loadDashboard().panels, 'panels').map((p) => asRecord(p, 'panel'));
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const cells = new Set<string>();
    for (const p of panels) {
      const g = asRecord(p.gridPos, `panel ${String(p.title)} gridPos`) as Record<string, number>;
      expect(g.x + g.w, String(p.title)).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${String(p.title)} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      if (p.type === 'row') continue;
      const refIds = asArray(p.targets, 'targets').map((t) => asRecord(t, 'target').refId);
      expect(refIds.length).toBeGreaterThan(0);
      expect(new Set(refIds).size, String(p.title)).toBe(refIds.length);
    }
  });
});
