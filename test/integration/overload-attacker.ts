/**
 * The abusive client of the overload tests, run as its own process (so that its work does not delay the
 * test's bystander). It sends GETS gets of the keys big/0..KEYS-1 to ADDRESS and never reads a response:
 * - mode pipeline: on one KV.Pipeline stream (grpc-js, the stream paused);
 * - mode unary: as KV.Get calls on raw HTTP/2 streams (node:http2), each stream paused, so the node's
 *   responses stop at the stream's flow-control window; it stops early if the node closes the connection.
 * Prints "sent" once everything is written; exits after DURATION_MS (bounded) or on SIGTERM.
 *   tsx test/integration/overload-attacker.ts ADDRESS GETS KEYS DURATION_MS [pipeline|unary]
 */
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { loadServices } from '../../src/client/proto';

const [address, getsText, keysText, durationText, mode = 'pipeline'] = process.argv.slice(2);
const gets = Number(getsText);
const keys = Number(keysText);
const { KV, packageDefinition } = loadServices();
const turn = () => new Promise((r) => setImmediate(r));

async function pipeline(): Promise<void> {
  const raw = new KV(address as string, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
  const call = raw.pipeline() as grpc.ClientDuplexStream<unknown, unknown>;
  call.on('error', () => undefined); // the node may end the stream
  call.pause(); // never reads a response
  for (let i = 0; i < gets; i++) {
    call.write({
      ops: [{ id: i + 1, timeoutMs: 10_000, get: { key: Buffer.from(`big/${i % keys}`), consistency: 1 } }],
    });
    if (i % 100 === 99) await turn();
  }
}

async function unary(): Promise<void> {
  const serialize = (
    packageDefinition['tessera.v1.KV'] as unknown as Record<string, grpc.MethodDefinition<unknown, unknown>>
  ).Get!.requestSerialize;
  const session = http2.connect(`http://${address}`);
  session.on('error', () => undefined);
  for (let i = 0; i < gets; i++) {
    if (session.closed || session.destroyed) return; // the node closed the connection: the attack is over
    const body = serialize({ key: Buffer.from(`big/${i % keys}`), consistency: 1 });
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/tessera.v1.KV/Get',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.on('error', () => undefined);
    stream.pause(); // never reads the response
    stream.end(frame);
    if (i % 100 === 99) await turn();
  }
}

void (mode === 'unary' ? unary() : pipeline()).then(() => process.stdout.write('sent\n'));
setTimeout(() => process.exit(0), Number(durationText)).unref();
setInterval(() => undefined, 1000); // stay alive until the duration or SIGTERM
