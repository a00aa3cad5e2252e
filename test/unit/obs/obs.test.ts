import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createNodeMetrics, createPinoLogger, startHttpServer } from '../../../src/obs';

describe('obs', () => {
  it('logs JSON lines with the base fields and a level label', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = createPinoLogger({ level: 'info', base: { node: 7 }, destination: sink });
    log.child({ group: 1 }).info({ term: 3 }, 'became leader');
    log.debug({}, 'hidden');
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0] as string);
    expect(rec).toMatchObject({ level: 'info', node: 7, group: 1, term: 3, msg: 'became leader' });
  });

  it('serves /metrics and /healthz', async () => {
    const metrics = createNodeMetrics();
    metrics.raftTerm.set({ group: '1' }, 5);
    metrics.fsyncDurationSeconds.observe(0.002);
    let serving = true;
    const server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      registry: metrics.registry,
      health: () => ({ serving, nodeId: 1 }),
    });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const m = await fetch(`${base}/metrics`);
      expect(m.status).toBe(200);
      const text = await m.text();
      expect(text).toContain('tessera_raft_term{group="1"} 5');
      expect(text).toContain('tessera_fsync_duration_seconds_count 1');
      expect(text).toContain('tessera_grpc_request_latency_seconds');
      const h = await fetch(`${base}/healthz`);
      expect(h.status).toBe(200);
      expect(await h.json()).toEqual({ serving: true, nodeId: 1 });
      serving = false;
      expect((await fetch(`${base}/healthz`)).status).toBe(503);
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('keeps registries of two nodes apart', () => {
    const a = createNodeMetrics();
    const b = createNodeMetrics();
    a.proposals.inc({ group: '1', outcome: 'ok' });
    expect(a.registry).not.toBe(b.registry);
  });
});
