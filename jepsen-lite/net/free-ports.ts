/**
 * Free ports for tests and runs on a shared machine: single ports, several distinct ones, or a block of
 * `size` consecutive ports on 127.0.0.1, each checked free by binding it, at random below the kernel's
 * ephemeral range (32768 and up on Linux), so outgoing connections' local ports do not collide with them
 * (a port the kernel chose for bind(0) is in that range: any test's next outgoing connection could take
 * it before the node listened there). Another process may still take a port between the check and its
 * use: callers bind soon after, and a failed start is reported with the port (never silently retried on
 * a fixed port).
 * Invariant: what is returned was free for every port when checked, and freePorts' ports are distinct;
 * at most `attemptsMax` tries.
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

/** One free port: for a single listener. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0] as number;
}

/** `count` distinct free ports (not necessarily consecutive): one node's listeners, or several nodes'. */
export async function freePorts(count: number, attemptsMax = 50 * count): Promise<number[]> {
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new RangeError(`port count ${count} not in 1..1000`);
  const ports: number[] = [];
  for (let attempt = 0; attempt < attemptsMax && ports.length < count; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (!ports.includes(port) && (await portIsFree(port))) ports.push(port);
  }
  if (ports.length < count) throw new Error(`only ${ports.length} of ${count} free ports found in ${LOW}..${HIGH}`);
  return ports;
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
