/**
 * The abusive client of the overload tests, run as its own process (so that its work does not delay the
 * test's bystander): opens a KV.Pipeline stream to ADDRESS, sends GETS gets of the keys big/0..KEYS-1 and
 * never reads a response. Prints "sent" once everything is written to its stream; exits after
 * DURATION_MS (bounded) or on SIGTERM.
 *   tsx test/integration/overload-attacker.ts ADDRESS GETS KEYS DURATION_MS
 */
import * as grpc from '@grpc/grpc-js';
import { loadServices } from '../../src/client/proto';

const [address, getsText, keysText, durationText] = process.argv.slice(2);
const gets = Number(getsText);
const keys = Number(keysText);
const { KV } = loadServices();
const raw = new KV(address as string, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
const call = raw.pipeline() as grpc.ClientDuplexStream<unknown, unknown>;
call.on('error', () => undefined); // the node may end the stream
call.pause(); // never reads a response
void (async () => {
  for (let i = 0; i < gets; i++) {
    call.write({
      ops: [{ id: i + 1, timeoutMs: 10_000, get: { key: Buffer.from(`big/${i % keys}`), consistency: 1 } }],
    });
    if (i % 100 === 99) await new Promise((r) => setImmediate(r));
  }
  process.stdout.write('sent\n');
})();
setTimeout(() => process.exit(0), Number(durationText)).unref();
setInterval(() => undefined, 1000); // stay alive until the duration or SIGTERM
