/**
 * The HTTP endpoint under abuse (issue 9 §4): /metrics rendered at most once per interval however many
 * scrapes come (concurrent ones share a render), a connection cap that evicts idle connections so a
 * health check still gets in, silent connections closed by the idle timeout, and /metrics answered 503 at
 * once while the event loop lags (a fake lag source).
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { HTTP_DEFAULTS, MetricsCache, createNodeMetrics, startHttpServer } from '../../../src/obs';
import type { HttpServerOptions, NodeMetrics } from '../../../src/obs';

function openIdle(port: number, n: number): Promise<Socket[]> {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect(port, '127.0.0.1', () => resolve(s));
          s.on('error', () => undefined);
          s.once('error', reject);
        }),
    ),
  );
}

/** The HTTP server on a free port, always serving, counting renders in `metrics`. */
const serve = (metrics: NodeMetrics, more: Partial<HttpServerOptions>) =>
  startHttpServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    health: () => ({ serving: true }),
    onMetricsRender: () => metrics.metricsRenders.inc(),
    ...more,
  });

const closedCount = (sockets: Socket[]) => sockets.filter((s) => s.destroyed || s.readyState === 'closed').length;

describe('MetricsCache', () => {
  it('renders once for concurrent and repeated gets within the interval, again after it, and retries a failure', async () => {
    let now = 0;
    let renders = 0;
    let fail = false;
    const source = {
      metrics: async () => {
        renders++;
        if (fail) throw new Error('boom');
        return `text ${renders}`;
      },
    };
    const cache = new MetricsCache(source, 1000, undefined, () => now);
    const texts = await Promise.all(Array.from({ length: 100 }, () => cache.get()));
    expect(new Set(texts)).toEqual(new Set(['text 1']));
    now = 999;
    expect(await cache.get()).toBe('text 1');
    expect(renders).toBe(1);
    now = 1000;
    fail = true;
    await expect(cache.get()).rejects.toThrow('boom');
    fail = false;
    expect(await cache.get()).toBe('text 3'); // the failure was not cached
    expect(renders).toBe(3);
  });
});

describe('HTTP server under abuse', () => {
  it('a flood of 1,000 scrapes costs about one render per interval', async () => {
    const metrics = createNodeMetrics({ defaultMetrics: true });
    // Count the registry's real renders, whatever the server counts.
    let rendered = 0;
    const render = metrics.registry.metrics.bind(metrics.registry);
    metrics.registry.metrics = () => {
      rendered++;
      return render();
    };
    const server = await serve(metrics, { loopLag: { lagMs: () => 0 } }); // this test counts renders: no shedding
    try {
      const t0 = performance.now();
      const url = `http://127.0.0.1:${server.port}/metrics`;
      for (let wave = 0; wave < 10; wave++) {
        const texts = await Promise.all(Array.from({ length: 100 }, () => fetch(url).then((r) => r.text())));
        expect(texts.every((t) => t.includes('tessera_metrics_renders_total'))).toBe(true);
      }
      const seconds = (performance.now() - t0) / 1000;
      const renders = (await metrics.metricsRenders.get()).values[0]?.value ?? 0;
      expect(rendered).toBeGreaterThanOrEqual(1);
      expect(rendered).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
      expect(renders).toBe(rendered); // tessera_metrics_renders_total counts them
    } finally {
      await server.close();
    }
  });

  it('answers /metrics 503 at once while the event loop lags, never /healthz', async () => {
    const metrics = createNodeMetrics();
    let lagMs = 0;
    let shed = 0;
    const server = await serve(metrics, { onMetricsShed: () => shed++, loopLag: { lagMs: () => lagMs } });
    try {
      const get = (path: string) => fetch(`http://127.0.0.1:${server.port}${path}`);
      lagMs = 400;
      const lagging = await get('/metrics');
      expect([lagging.status, lagging.headers.get('retry-after')]).toEqual([503, '1']);
      expect((await get('/healthz')).status).toBe(200);
      expect(shed).toBe(1);
      expect((await metrics.metricsRenders.get()).values[0]?.value ?? 0).toBe(0); // nothing rendered
      lagMs = HTTP_DEFAULTS.metricsShedAfterMs; // not past the bound
      expect((await get('/metrics')).status).toBe(200);
      expect(shed).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('at the connection cap an idle connection is evicted for a new one: /healthz still answers', async () => {
    const metrics = createNodeMetrics();
    const server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      registry: metrics.registry,
      health: () => ({ serving: true }),
      connectionsMax: 50,
    });
    const idle = await openIdle(server.port, 80);
    try {
      await new Promise((r) => setTimeout(r, 200));
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${server.port}/healthz`);
      expect(res.status).toBe(200);
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(server.connections().open).toBeLessThanOrEqual(50);
      expect(server.connections().evicted).toBeGreaterThanOrEqual(31);
      expect(closedCount(idle)).toBeGreaterThanOrEqual(30);
    } finally {
      for (const s of idle) s.destroy();
      await server.close();
    }
  });

  it('closes connections that stay silent past the idle timeout', async () => {
    const metrics = createNodeMetrics();
    const server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      registry: metrics.registry,
      health: () => ({ serving: true }),
      socketIdleMs: 300,
    });
    const idle = await openIdle(server.port, 20);
    try {
      const deadline = Date.now() + 5000;
      while (closedCount(idle) < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(closedCount(idle)).toBe(20);
      expect(server.connections().open).toBe(0);
    } finally {
      for (const s of idle) s.destroy();
      await server.close();
    }
  });
});
