/**
 * The node's HTTP endpoint: GET /metrics (Prometheus text format) and GET /healthz
 * (200 with a JSON status while the node serves; 503 with the same JSON while it starts or stops).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthReport {
  serving: boolean;
  [field: string]: unknown;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  registry: Registry;
  health: () => HealthReport;
}

export interface ObsHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(options: HttpServerOptions): Promise<ObsHttpServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/metrics') {
      options.registry
        .metrics()
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
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /healthz\n');
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
