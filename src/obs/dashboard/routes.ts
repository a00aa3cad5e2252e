/**
 * The dashboard's HTTP routes, answered by the node's HTTP server (http-server.ts) next to /metrics:
 * - GET / : the page (HTML generated here; its only dynamic values, the node id and address, escaped);
 * - GET /dashboard/<asset> : the page's script and style and uPlot's, read once from the static folder
 *   (copied into dist at build, scripts/copy-dashboard-assets.mjs); only the listed names, so no path
 *   ever reaches the filesystem; a file missing from the folder is a 404;
 * - GET /api/dashboard : the snapshot as JSON (polled by the page every second).
 * Every answer says no-cache and nosniff; the page gets a Content-Security-Policy that allows only the
 * node's own scripts and styles (no network at run time, no inline script).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeHtml } from './format';

export interface DashboardResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

export interface DashboardRoutes {
  /** The answer for a GET of this path, or null when the path is not the dashboard's. */
  handle(path: string): DashboardResponse | null;
  /** Stops what feeds the routes (the sampler); called by the HTTP server's close. */
  close(): void;
}

export interface DashboardRoutesOptions {
  /** The snapshot JSON (sampler.ts Dashboard.json). */
  json: () => string;
  nodeId: number;
  address: string;
  /** Where the assets are (default: the static folder next to this module). */
  staticDir?: string;
  onClose?: () => void;
}

/** Asset name -> content type; the only files ever read. */
export const DASHBOARD_ASSETS: Readonly<Record<string, string>> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'uPlot.iife.min.js': 'text/javascript; charset=utf-8',
  'uPlot.min.css': 'text/css; charset=utf-8',
};

const COMMON_HEADERS = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
};

const PAGE_CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

export function createDashboardRoutes(options: DashboardRoutesOptions): DashboardRoutes {
  const dir = options.staticDir ?? join(__dirname, 'static');
  const assets = new Map<string, Buffer>();
  for (const name of Object.keys(DASHBOARD_ASSETS)) {
    try {
      assets.set(name, readFileSync(join(dir, name)));
    } catch {
      // not built (e.g. running from src without `npm run build`): answered 404, the page degrades
    }
  }
  const page = renderPage(options.nodeId, options.address);
  return {
    close: () => options.onClose?.(),
    handle(path) {
      if (path === '/' || path === '/index.html')
        return ok('text/html; charset=utf-8', page, { 'content-security-policy': PAGE_CSP });
      if (path === '/api/dashboard') return ok('application/json; charset=utf-8', options.json());
      if (!path.startsWith('/dashboard/')) return null;
      const name = path.slice('/dashboard/'.length);
      const type = Object.hasOwn(DASHBOARD_ASSETS, name) ? DASHBOARD_ASSETS[name] : undefined;
      const body = assets.get(name);
      if (type === undefined || body === undefined)
        return { status: 404, headers: { ...COMMON_HEADERS, 'content-type': 'text/plain' }, body: 'not found\n' };
      return ok(type, body);
    },
  };
}

function ok(type: string, body: string | Buffer, extra: Record<string, string> = {}): DashboardResponse {
  return { status: 200, headers: { ...COMMON_HEADERS, 'content-type': type, ...extra }, body };
}

/** The page: static markup, filled by app.js from /api/dashboard (with textContent only). */
export function renderPage(nodeId: number, address: string): string {
  const who = escapeHtml(`node ${nodeId} (${address})`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tessera dashboard: ${who}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/uPlot.min.css">
<link rel="stylesheet" href="/dashboard/app.css">
</head>
<body>
<header>
<h1>Tessera <span class="who">${who}</span></h1>
<div id="status" class="status">loading...</div>
</header>
<main>
<section><h2>Nodes</h2>
<table id="nodes"><thead><tr><th>id</th><th>address</th><th>state</th><th>last heard</th><th>leads</th></tr></thead><tbody></tbody></table>
</section>
<section><h2>Groups <span id="groups-count" class="note"></span></h2>
<table id="groups"><thead><tr><th>group</th><th>range</th><th>leader</th><th>term</th><th>role here</th><th>applied</th><th>lag</th><th>replicas (behind)</th></tr></thead><tbody></tbody></table>
</section>
<section class="charts"><h2>This node, last minutes</h2>
<div id="chart-throughput" class="chart"></div>
<div id="chart-latency" class="chart"></div>
<p id="charts-note" class="note"></p>
</section>
<section><h2>Recent leader changes</h2>
<table id="changes"><thead><tr><th>time</th><th>group</th><th>from</th><th>to</th><th>term</th></tr></thead><tbody></tbody></table>
</section>
</main>
<script src="/dashboard/uPlot.iife.min.js"></script>
<script src="/dashboard/app.js"></script>
</body>
</html>
`;
}
