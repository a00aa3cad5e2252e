/**
 * Pattern 4, pipelined puts at once: pipelinePuts small puts spread over pipelineStreams Pipeline
 * streams, every stream opened and every request written at once, each stream then half-closed and
 * read to its end. Issue 9: of 100,000 over 2,000 streams most got RESOURCE_EXHAUSTED (good) but the
 * leader still lost leadership.
 *
 * Outcome per stream: ok (ended OK, every put answered OK), refused (ended RESOURCE_EXHAUSTED, or some
 * put answered RESOURCE_EXHAUSTED), closed (another status, or puts left unanswered by an OK end),
 * deadline (DEADLINE_EXCEEDED: the node was told), hung (no end by deadline + grace).
 */
import type * as grpc from '@grpc/grpc-js';
import { decode } from '../hostile/wire';
import type { AbuserOutcome, AttackReport, AttackTarget, OverloadSizes } from './catalogue';
import { bidi, ownChannel, pipelineRequest, statusName, type PipelineOpSpec } from './grpc-raw';
import { Tally, bounded } from './tally';

const STREAMS_PER_CONNECTION = 100;

interface Results {
  results: { index: number; error?: { code: number; trailers?: Record<string, string> } | null }[];
}

function runStream(
  client: grpc.Client,
  ops: PipelineOpSpec[],
  s: OverloadSizes,
  opCodes: Map<string, number>,
): Promise<{ outcome: AbuserOutcome; code: string }> {
  return new Promise((resolve) => {
    const call = bidi(client, '/tessera.v1.KV/Pipeline', s.callDeadlineMs);
    let answered = 0;
    let refusedOps = 0;
    call.on('data', (buf: Buffer) => {
      for (const r of decode<Results>('PipelineResponse', buf).results) {
        answered++;
        const reason = r.error?.trailers?.['tessera-reason'];
        const code = r.error ? `${statusName(r.error.code)}${reason ? ` ${reason}` : ''}` : 'OK';
        if (r.error?.code === 8) refusedOps++;
        opCodes.set(code, (opCodes.get(code) ?? 0) + 1);
      }
    });
    call.on('error', () => undefined);
    call.on('status', (st: grpc.StatusObject) => {
      if (st.code === 0) {
        if (refusedOps > 0) resolve({ outcome: 'refused', code: 'OK with refused puts' });
        else if (answered < ops.length) resolve({ outcome: 'closed', code: `OK, ${ops.length - answered} unanswered` });
        else resolve({ outcome: 'ok', code: 'OK' });
      } else if (st.code === 8) resolve({ outcome: 'refused', code: 'RESOURCE_EXHAUSTED' });
      else if (st.code === 4) resolve({ outcome: 'deadline', code: 'DEADLINE_EXCEEDED' });
      else resolve({ outcome: 'closed', code: statusName(st.code) });
    });
    call.write(pipelineRequest(ops));
    call.end();
  });
}

export async function pipelineFlood(t: AttackTarget, s: OverloadSizes): Promise<AttackReport> {
  const t0 = Date.now();
  const tally = new Tally();
  const opCodes = new Map<string, number>();
  const perStream = Math.ceil(s.pipelinePuts / s.pipelineStreams);
  const value = Buffer.alloc(100, 0x70);
  const channels: grpc.Client[] = [];
  for (let i = 0; i < Math.ceil(s.pipelineStreams / STREAMS_PER_CONNECTION); i++)
    channels.push(ownChannel(t.grpcAddress));
  await Promise.all(
    Array.from({ length: s.pipelineStreams }, async (_, n) => {
      const ops: PipelineOpSpec[] = Array.from({ length: perStream }, (_, i) => ({
        id: i + 1,
        put: { key: `overload/pf/${n}/${i}`, value },
      }));
      const stream = runStream(channels[Math.floor(n / STREAMS_PER_CONNECTION)]!, ops, s, opCodes);
      const r = await bounded(stream, s.callDeadlineMs + s.graceMs, () => ({
        outcome: 'hung' as const,
        code: 'no end',
      }));
      tally.add(r.outcome, r.code);
    }),
  );
  for (const c of channels) c.close();
  const ops = [...opCodes].map(([c, n]) => `${c} x${n}`).join(', ');
  return tally.report('pipeline-flood', t0, [
    `${perStream * s.pipelineStreams} puts over ${s.pipelineStreams} streams; put answers: ${ops || 'none'}`,
  ]);
}
