/**
 * Pattern 2, concurrent full scans of large values: `scans` Scan calls at once over the whole key range
 * with no item or byte limit of their own (the node's page limits apply), after the runner wrote
 * bigKeys values of bigValueBytes. Issue 9: 300 of them took the leader to 2.3 GB.
 *
 * Outcome per call: ok (a page came back), refused (RESOURCE_EXHAUSTED), closed (another status),
 * deadline (no answer by the call's deadline, which the node was told), hung (nothing by deadline + grace).
 */
import type * as grpc from '@grpc/grpc-js';
import { encode } from '../hostile/wire';
import type { AttackReport, AttackTarget, OverloadSizes } from './catalogue';
import { ownChannel, rawUnary, statusName } from './grpc-raw';
import { Tally, bounded } from './tally';

const CALLS_PER_CONNECTION = 25;

export async function scanStorm(t: AttackTarget, s: OverloadSizes): Promise<AttackReport> {
  const t0 = Date.now();
  const tally = new Tally();
  const channels: grpc.Client[] = [];
  for (let i = 0; i < Math.ceil(s.scans / CALLS_PER_CONNECTION); i++) channels.push(ownChannel(t.grpcAddress));
  const request = encode('ScanRequest', { start: Buffer.alloc(0), end: Buffer.alloc(0), limit: 0, bytesMax: 0 });
  let bytes = 0;
  await Promise.all(
    Array.from({ length: s.scans }, async (_, i) => {
      const call = rawUnary(
        channels[Math.floor(i / CALLS_PER_CONNECTION)]!,
        '/tessera.v1.KV/Scan',
        request,
        s.callDeadlineMs,
      );
      const r = await bounded(call, s.callDeadlineMs + s.graceMs, () => ({ code: -1, bytes: 0 }));
      bytes += r.bytes;
      if (r.code === -1) tally.add('hung', 'no answer');
      else if (r.code === 0) tally.add('ok', 'OK');
      else if (r.code === 8) tally.add('refused', 'RESOURCE_EXHAUSTED');
      else if (r.code === 4) tally.add('deadline', 'DEADLINE_EXCEEDED');
      else tally.add('closed', statusName(r.code));
    }),
  );
  for (const c of channels) c.close();
  return tally.report('scan-storm', t0, [`${Math.round(bytes / 2 ** 20)} MiB of pages received`]);
}
