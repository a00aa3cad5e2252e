import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GroupId } from '../../../src/base';
import { createNodeMetrics, startHttpServer, type ObsHttpServer } from '../../../src/obs';
import {
  createDashboardRoutes,
  renderPage,
  startDashboard,
  startNodeDashboard,
  type DashboardHost,
} from '../../../src/obs/dashboard';

const STATIC_SRC = join(__dirname, '..', '..', '..', 'src', 'obs', 'dashboard', 'static');

/** A node host seen through the dashboard's interface: two groups, three nodes, node 3 silent. */
function fakeHost(leader: { value: number }): DashboardHost {
  const members = [1, 2, 3].map((id) => ({ id, address: `10.0.0.${id}:7000`, voter: true, match: 0 }));
  return {
    nodeId: 1,
    groupIds: () => [1 as GroupId, 2 as GroupId],
    groupStatus: (id) => ({
      leader: id === 1 ? leader.value : 2,
      term: id === 1 ? leader.value + 10 : 1,
      role: 'follower',
      commit: 7,
      applied: 7,
      members,
      range: { start: Buffer.from(id === 1 ? '' : '<script>'), end: null },
      kind: id === 2 ? 'meta' : 'data',
    }),
    listNodes: () => members.map((m) => ({ id: m.id, address: m.address, state: 'active' })),
    peersHeardMs: () => new Map([[2, performance.now()]]),
  };
}

describe('dashboard HTTP routes', () => {
  let dir: string;
  let server: ObsHttpServer;
  let base: string;
  const json = { text: '{"ok":true}' };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-dash-'));
    writeFileSync(join(dir, 'app.js'), 'console.log(1)');
    writeFileSync(join(dir, 'app.css'), 'body{}');
    writeFileSync(join(dir, 'uPlot.min.css'), '.u{}');
    writeFileSync(join(dir, 'secret.txt'), 'no');
    // uPlot.iife.min.js left out: a missing asset is a 404
    const routes = createDashboardRoutes({
      json: () => json.text,
      nodeId: 4,
      address: '<img src=x onerror=alert(1)>:7000',
      staticDir: dir,
    });
    server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      registry: createNodeMetrics().registry,
      health: () => ({ serving: true }),
      dashboard: routes,
    });
    base = `http://127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the page with an escaped title, no-cache and a self-only CSP', async () => {
    const r = await fetch(`${base}/`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(r.headers.get('cache-control')).toBe('no-cache');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await r.text();
    expect(html).toContain('node 4 (&lt;img src=x onerror=alert(1)&gt;:7000)');
    expect(html).not.toContain('<img');
    expect(html).toContain('<script src="/dashboard/app.js"></script>');
    expect(html).not.toMatch(/<script>/); // no inline script
  });

  it('serves the listed assets with their content types', async () => {
    const js = await fetch(`${base}/dashboard/app.js`);
    expect([js.status, js.headers.get('content-type'), await js.text()]).toEqual([
      200,
      'text/javascript; charset=utf-8',
      'console.log(1)',
    ]);
    const css = await fetch(`${base}/dashboard/app.css`);
    expect([css.status, css.headers.get('content-type'), css.headers.get('cache-control')]).toEqual([
      200,
      'text/css; charset=utf-8',
      'no-cache',
    ]);
  });

  it('answers 404 for a missing asset, an unlisted file, a traversal and unknown paths', async () => {
    for (const path of [
      '/dashboard/uPlot.iife.min.js',
      '/dashboard/secret.txt',
      '/dashboard/../package.json',
      '/dashboard/%2e%2e/package.json',
      '/dashboard/',
      '/api/dashboard/x',
      '/nope',
    ]) {
      const r = await fetch(`${base}${path}`);
      expect(r.status, path).toBe(404);
      await r.text();
    }
  });

  it('serves the snapshot JSON uncached, and refuses other methods', async () => {
    json.text = '{"n":1}';
    const a = await fetch(`${base}/api/dashboard`);
    expect(a.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(a.headers.get('cache-control')).toBe('no-cache');
    expect(await a.json()).toEqual({ n: 1 });
    json.text = '{"n":2}';
    expect(await (await fetch(`${base}/api/dashboard`)).json()).toEqual({ n: 2 });
    const post = await fetch(`${base}/api/dashboard`, { method: 'POST' });
    expect(post.status).toBe(405);
    // /metrics and /healthz still answer next to the dashboard
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

describe('dashboard sampler', () => {
  it('samples the host and metrics, and stops with the routes', async () => {
    const leader = { value: 2 };
    const metrics = createNodeMetrics();
    const dashboard = startDashboard({ host: fakeHost(leader), metrics, selfAddress: 'me:1', downAfterMs: 1000 });
    try {
      await dashboard.sampleNow();
      metrics.commitLatencySeconds.observe({ group: '1' }, 0.004);
      metrics.reads.inc({ group: '1', kind: 'linearizable', outcome: 'ok' }, 3);
      metrics.reads.inc({ group: '1', kind: 'linearizable', outcome: 'failed' }, 100);
      leader.value = 3;
      await dashboard.sampleNow();
      const snap = dashboard.snapshot();
      expect(snap.nodes.map((n) => [n.id, n.up])).toEqual([
        [1, true],
        [2, true],
        [3, false],
      ]);
      expect(snap.groups.map((g) => [g.id, g.leader, g.range])).toEqual([
        [2, 2, 'meta shard'],
        [1, 3, '[-inf, +inf)'],
      ]);
      expect(snap.leaderChanges).toMatchObject([{ group: 1, from: 2, to: 3, term: 13 }]);
      expect(snap.series.writesPerSec[0]).toBeGreaterThan(0);
      expect(snap.series.commitP50Ms[0]).toBeGreaterThan(2);
      expect(snap.series.commitP50Ms[0]).toBeLessThanOrEqual(5);
      const json = dashboard.json();
      expect(json).toBe(dashboard.json()); // rendered once per sample
      expect(JSON.parse(json).groupsTotal).toBe(2);
    } finally {
      dashboard.stop();
    }
  });

  it('closing the node dashboard routes stops its sampler', async () => {
    const routes = startNodeDashboard({
      host: fakeHost({ value: 2 }),
      metrics: createNodeMetrics(),
      selfAddress: 'me:1',
      downAfterMs: 1000,
      periodMs: 20,
      staticDir: STATIC_SRC,
    });
    const sampled = async (): Promise<number> =>
      JSON.parse(routes.handle('/api/dashboard')!.body.toString()).series.t.length;
    for (let i = 0; i < 100 && (await sampled()) < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await sampled()).toBeGreaterThanOrEqual(2);
    routes.close();
    await new Promise((r) => setTimeout(r, 60));
    const after = await sampled();
    await new Promise((r) => setTimeout(r, 100));
    expect(await sampled()).toBe(after);
    expect(routes.handle('/dashboard/app.js')!.status).toBe(200);
    expect(routes.handle('/dashboard/uPlot.iife.min.js')!.status).toBe(404); // only in dist after a build
  });
});

describe('dashboard sampler cadence', () => {
  it('samples every period only while the JSON is being polled', async () => {
    const host = fakeHost({ value: 2 });
    let statusReads = 0;
    const groupStatus = host.groupStatus.bind(host);
    host.groupStatus = (id) => {
      statusReads++;
      return groupStatus(id);
    };
    const dashboard = startDashboard({
      host,
      metrics: createNodeMetrics(),
      selfAddress: 'me:1',
      downAfterMs: 1000,
      periodMs: 10,
      idleMetricsEvery: 1_000_000,
    });
    try {
      const points = (): number => dashboard.snapshot().series.t.length;
      const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
      await sleep(150);
      expect(points()).toBe(0); // unwatched: only the first sample read the metrics
      expect(statusReads).toBe(host.groupIds().length); // and the groups' status: no sample since
      dashboard.json(); // someone watches
      for (let i = 0; i < 100 && points() < 3; i++) await sleep(20);
      expect(points()).toBeGreaterThanOrEqual(3);
    } finally {
      dashboard.stop();
    }
  });
});

describe('dashboard page script', () => {
  it('puts values into the page with textContent only', () => {
    const js = readFileSync(join(STATIC_SRC, 'app.js'), 'utf8');
    expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    expect(js).toContain('textContent');
    expect(renderPage(1, 'a"b')).toContain('node 1 (a&quot;b)');
  });
});
