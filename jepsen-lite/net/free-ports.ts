/**
 * Free port blocks for tests and runs on a shared machine: a block of `size` consecutive ports on
 * 127.0.0.1, each checked free by binding it, at a random base below the kernel's ephemeral range
 * (32768 and up on Linux), so outgoing connections' local ports do not collide with it. Another process
 * may still take a port between the check and its use: callers bind soon after, and a failed start is
 * reported with the port (never silently retried on a fixed port).
 * Invariant: the block returned was free for every port when checked; at most `attemptsMax` tries.
 */
import { createServer } from 'node:net';

const LOW = 10_000;
const HIGH = 32_000; // exclusive: below the ephemeral range
const HOST = '127.0.0.1';

/** Whether `port` can be bound on 127.0.0.1 right now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: HOST, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** One port the kernel chose (bind to 0): for a single listener. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: HOST, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** The first port of `size` consecutive free ports. */
export async function freePortBlock(size: number, attemptsMax = 50): Promise<number> {
  if (!Number.isInteger(size) || size < 1 || size > 1000)
    throw new RangeError(`port block size ${size} not in 1..1000`);
  for (let attempt = 0; attempt < attemptsMax; attempt++) {
    const base = LOW + Math.floor(Math.random() * (HIGH - LOW - size));
    let free = true;
    for (let p = base; p < base + size && free; p++) free = await portIsFree(p);
    if (free) return base;
  }
  throw new Error(`no block of ${size} free ports found in ${LOW}..${HIGH} after ${attemptsMax} tries`);
}
