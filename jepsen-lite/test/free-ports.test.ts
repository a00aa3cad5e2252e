// Free ports for tests (net/free-ports.ts): below the kernel's ephemeral range, where an outgoing
// connection's local port can never take one between the check and the node's listen (CI saw a node's
// --http port, chosen by bind(0) at 39385, taken that way), distinct within one call, and bindable.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, freePorts, portIsFree } from '../net/free-ports';

const EPHEMERAL_LOW = 32_768;

describe('free ports', () => {
  it('are below the ephemeral range, distinct within one call, and free', async () => {
    for (let round = 0; round < 20; round++) {
      const ports = await freePorts(5);
      expect(new Set(ports).size).toBe(5);
      for (const p of ports) expect(p).toBeGreaterThanOrEqual(10_000);
      for (const p of ports) expect(p).toBeLessThan(EPHEMERAL_LOW);
    }
    const one = await freePort();
    expect(one).toBeLessThan(EPHEMERAL_LOW);
    expect(await portIsFree(one)).toBe(true);
  });

  it('a port in use is not free, and bad counts are refused', async () => {
    const server = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen({ port, host: '127.0.0.1' }, resolve));
    try {
      expect(await portIsFree(port)).toBe(false);
    } finally {
      server.close();
    }
    await expect(freePorts(0)).rejects.toThrow(RangeError);
    await expect(freePorts(1.5)).rejects.toThrow(RangeError);
  });
});
