/**
 * The node's HTTP endpoint: GET /metrics (Prometheus text format) and GET /healthz
 * (200 with a JSON status while the node serves; 503 with the same JSON while it starts or stops), and
 * when given, the dashboard's routes (dashboard/routes.ts: the page at /, its assets, /api/dashboard).
 *
 * Overload bounds (README "Memory budget and overload"):
 * - /metrics is rendered at most once per metricsCacheMs (metrics-cache.ts): a scrape flood costs about
 *   one render per interval; while the event loop lags past metricsShedAfterMs (loop-lag.ts) a scrape is
 *   answered 503 with Retry-After at once, without its body (/healthz is never shed);
 * - at most connectionsMax open connections; at the cap the least recently used idle one is closed for a
 *   new one (http-connections.ts), so idle connections never lock out /healthz;
 * - a connection must send its request headers within headersTimeoutMs and the whole request within
 *   requestTimeoutMs; a keep-alive connection idle for keepAliveTimeoutMs and any silent socket idle for
 *   socketIdleMs is closed;
 * - the listen backlog is large, so a burst of connections does not leave a health check waiting for a
 *   SYN retransmit.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { capConnections, type HttpConnectionStats } from './http-connections';
import { MetricsCache } from './metrics-cache';
import { processLoopLag, type LoopLag } from './loop-lag';
import type { DashboardRoutes } from './dashboard/routes';

export interface HealthReport {
  serving: boolean;
  [field: string]: unknown;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  registry: Registry;
  health: () => HealthReport;
  /** Counted once per /metrics render. */
  onMetricsRender?: () => void;
  /** Scrapes within this many ms of a render share its text (default 1000). */
  metricsCacheMs?: number;
  /** Open connections at most (default 1024). */
  connectionsMax?: number;
  /** A silent or idle socket is closed after this many ms (default 10000). */
  socketIdleMs?: number;
  /** /metrics is answered 503 while the event loop lags past this many ms (default 250). */
  metricsShedAfterMs?: number;
  /** Called once per /metrics scrape answered 503 because the loop lagged. */
  onMetricsShed?: () => void;
  /** The event loop's lag (default the process's sampler). */
  loopLag?: Pick<LoopLag, 'lagMs'>;
  /** The dashboard's routes (/, /dashboard/*, /api/dashboard); none when absent. */
  dashboard?: DashboardRoutes;
}

export interface ObsHttpServer {
  readonly port: number;
  connections(): HttpConnectionStats;
  close(): Promise<void>;
}

export const HTTP_DEFAULTS = {
  metricsCacheMs: 1000,
  connectionsMax: 1024,
  socketIdleMs: 10_000,
  headersTimeoutMs: 5000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 1000,
  backlog: 4096,
  metricsShedAfterMs: 250,
} as const;

export async function startHttpServer(options: HttpServerOptions): Promise<ObsHttpServer> {
  const cache = new MetricsCache(
    options.registry,
    options.metricsCacheMs ?? HTTP_DEFAULTS.metricsCacheMs,
    options.onMetricsRender,
  );
  const lag = options.loopLag ?? processLoopLag();
  const shedAfterMs = options.metricsShedAfterMs ?? HTTP_DEFAULTS.metricsShedAfterMs;
  const server: Server = createServer(
    {
      headersTimeout: HTTP_DEFAULTS.headersTimeoutMs,
      requestTimeout: HTTP_DEFAULTS.requestTimeoutMs,
      keepAliveTimeout: HTTP_DEFAULTS.keepAliveTimeoutMs,
      connectionsCheckingInterval: 1000,
    },
    (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET' }).end();
        return;
      }
      if (path === '/metrics') {
        if (lag.lagMs() > shedAfterMs) {
          options.onMetricsShed?.();
          res.writeHead(503, { 'retry-after': '1', 'content-type': 'text/plain' }).end('event loop lagging\n');
          return;
        }
        cache
          .get()
          .then((text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text))
          .catch((e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e)));
        return;
      }
      if (path === '/healthz') {
        let report: HealthReport;
        try {
          report = options.health();
        } catch (e) {
          report = { serving: false, error: String(e) };
        }
        res.writeHead(report.serving ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(report));
        return;
      }
      const page = options.dashboard?.handle(path);
      if (page) {
        res.writeHead(page.status, page.headers).end(page.body);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
    },
  );
  // Any socket silent this long is closed (no 'timeout' listener: Node destroys it).
  server.setTimeout(options.socketIdleMs ?? HTTP_DEFAULTS.socketIdleMs);
  const connections = capConnections(server, options.connectionsMax ?? HTTP_DEFAULTS.connectionsMax);
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => {
      options.dashboard?.close();
      reject(e);
    };
    server.once('error', onError);
    server.listen({ port: options.port, host: options.host, backlog: HTTP_DEFAULTS.backlog }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        options.dashboard?.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
