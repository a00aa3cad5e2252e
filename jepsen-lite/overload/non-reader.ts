/**
 * Pattern 1, a client that never reads its responses: raw HTTP/2 Pipeline streams (node:http2) whose
 * reading side stays paused, sending puts of big values and gets of the big keys as fast as the node
 * takes them, for nonReaderMs. The node is told the deadline (grpc-timeout). A node that bounds what it
 * holds for a client stops reading the stream (flow control) and ends it (RESOURCE_EXHAUSTED, a reset,
 * or its deadline); one that does not buffers every answer in memory (issue 9: 3 GB).
 *
 * Outcome per stream: refused (grpc-status 8 or RST ENHANCE_YOUR_CALM), closed (another status, a reset,
 * the connection closed), hung (nothing by deadline + grace, and still nothing within grace once the
 * abuser starts reading: a node that ended the call at its deadline has its status queued behind the
 * unread answers, which reading releases at once; a node that kept the call open does not end it).
 */
import * as http2 from 'node:http2';
import { bigKey, type AttackReport, type AttackTarget, type OverloadSizes } from './catalogue';
import { grpcFrame, pipelineRequest } from './grpc-raw';
import { Tally, sleep } from './tally';

interface StreamEnd {
  outcome: 'refused' | 'closed';
  code: string;
}

function watchEnd(stream: http2.ClientHttp2Stream, session: http2.ClientHttp2Session): Promise<StreamEnd> {
  return new Promise((resolve) => {
    const status = (h: http2.IncomingHttpHeaders): void => {
      const s = h['grpc-status'];
      if (s === undefined) return;
      resolve(
        s === '8' ? { outcome: 'refused', code: 'RESOURCE_EXHAUSTED' } : { outcome: 'closed', code: `status ${s}` },
      );
    };
    stream.on('response', status);
    stream.on('trailers', status);
    stream.on('error', () => undefined);
    stream.on('close', () =>
      resolve(
        stream.rstCode === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM
          ? { outcome: 'refused', code: 'RST ENHANCE_YOUR_CALM' }
          : { outcome: 'closed', code: `RST ${stream.rstCode ?? '?'}` },
      ),
    );
    session.on('goaway', () => resolve({ outcome: 'closed', code: 'GOAWAY' }));
    session.on('close', () => resolve({ outcome: 'closed', code: 'connection closed' }));
  });
}

async function feed(
  stream: http2.ClientHttp2Stream,
  s: OverloadSizes,
  n: number,
  until: number,
  ended: () => boolean,
): Promise<number> {
  const value = Buffer.alloc(s.bigValueBytes, 0x61 + (n % 26));
  const closed = new Promise((r) => stream.once('close', r));
  let sent = 0;
  for (let i = 0; i < s.nonReaderOps && Date.now() < until && !ended(); i++) {
    const op =
      i % 2 === 0
        ? { id: i + 1, put: { key: `overload/nr/${n}/${i % 64}`, value } }
        : { id: i + 1, get: { key: bigKey(i % Math.max(1, s.bigKeys)) } };
    const frame = grpcFrame(pipelineRequest([op]));
    sent += frame.length;
    if (!stream.write(frame)) {
      // The node reads no faster than this: wait for it (bounded by the sending window).
      let onDrain = (): void => undefined;
      await Promise.race([
        new Promise<void>((r) => stream.once('drain', (onDrain = r))),
        closed,
        sleep(Math.max(0, until - Date.now())),
      ]);
      stream.off('drain', onDrain);
    }
  }
  return sent;
}

export async function nonReader(t: AttackTarget, s: OverloadSizes): Promise<AttackReport> {
  const t0 = Date.now();
  const tally = new Tally();
  const session = http2.connect(`http://${t.grpcAddress}`);
  session.on('error', () => undefined);
  let bytes = 0;
  const streams = Array.from({ length: s.nonReaderStreams }, async (_, n) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/tessera.v1.KV/Pipeline',
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': `${s.nonReaderMs}m`,
    });
    // No 'data' listener and no resume(): the responses are never read.
    const seen: { end: StreamEnd | null } = { end: null };
    const endP = watchEnd(stream, session).then((e) => (seen.end ??= e));
    bytes += await feed(stream, s, n, t0 + s.nonReaderMs, () => seen.end !== null);
    const hardBound = t0 + s.nonReaderMs + s.graceMs;
    await Promise.race([endP, sleep(Math.max(0, hardBound - Date.now()))]);
    const early = seen.end;
    if (early) tally.add(early.outcome, early.code);
    else {
      // Nothing seen while not reading. A node that ended the call at its deadline queued the status behind
      // the unread answers (HTTP/2 sends trailers after data): read now, and the status must come at once.
      let readBytes = 0;
      stream.on('data', (d: Buffer) => (readBytes += d.length));
      await Promise.race([endP, sleep(2 * s.graceMs)]);
      const late = seen.end as StreamEnd | null;
      const read = `${Math.round(readBytes / 1024)} KiB read`;
      if (late) tally.add(late.outcome, `${late.code} once read (${read})`);
      else
        tally.add(
          'hung',
          `open ${Math.round((Date.now() - t0) / 1000)} s, still open ${2 * s.graceMs} ms after reading (${read})`,
        );
    }
    stream.destroy();
  });
  await Promise.all(streams);
  session.destroy();
  return tally.report('non-reader', t0, [`${Math.round(bytes / 2 ** 20)} MiB of requests written`]);
}
