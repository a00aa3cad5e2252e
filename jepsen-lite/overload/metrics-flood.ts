/**
 * Pattern 3, a /metrics flood: metricsRequests GET /metrics over keep-alive connections, metricsConcurrency
 * at a time. Issue 9: 10,000 of them stalled the leader's event loop long enough to lose leadership.
 *
 * Outcome per request: ok (200), refused (429 or 503, or the connection refused), closed (another status,
 * a reset or closed socket), hung (no answer within callDeadlineMs: HTTP carries no deadline, so a node
 * that makes a scrape wait that long has let it hang).
 */
import * as http from 'node:http';
import type { AttackReport, AttackTarget, OverloadSizes } from './catalogue';
import { Tally, pool } from './tally';

type Answer = { outcome: 'ok' | 'refused' | 'closed' | 'hung'; code: string };

export function httpGet(agent: http.Agent | false, t: AttackTarget, path: string, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (a: Answer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(a);
    };
    const req = http.get({ host: t.httpHost, port: t.httpPort, path, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        const c = res.statusCode ?? 0;
        finish({ outcome: c === 200 ? 'ok' : c === 429 || c === 503 ? 'refused' : 'closed', code: String(c) });
      });
      res.on('error', () => finish({ outcome: 'closed', code: 'body cut' }));
    });
    req.on('error', (e: NodeJS.ErrnoException) =>
      finish({ outcome: e.code === 'ECONNREFUSED' ? 'refused' : 'closed', code: e.code ?? e.message }),
    );
    const timer = setTimeout(() => {
      finish({ outcome: 'hung', code: `no answer in ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
  });
}

export async function metricsFlood(t: AttackTarget, s: OverloadSizes): Promise<AttackReport> {
  const t0 = Date.now();
  const tally = new Tally();
  const agent = new http.Agent({ keepAlive: true, maxSockets: s.metricsConcurrency });
  const stopAt = t0 + s.metricsFloodMs;
  await pool(s.metricsRequests, s.metricsConcurrency, async () => {
    if (Date.now() > stopAt) return;
    const a = await httpGet(agent, t, '/metrics', s.callDeadlineMs);
    tally.add(a.outcome, a.code);
  });
  agent.destroy();
  return tally.report('metrics-flood', t0, [
    `${tally.abusers} of ${s.metricsRequests} requests sent (${s.metricsConcurrency} at a time, none started after ${s.metricsFloodMs} ms)`,
  ]);
}
