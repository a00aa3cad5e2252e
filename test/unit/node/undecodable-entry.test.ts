/**
 * A committed entry whose data does not decode as a command (issue 8: a forged append with such an entry
 * crashed the follower) is applied as a no-op: the node keeps serving, the applied index moves past it,
 * tessera_undecodable_entries_total counts it and it is logged once per group. One real single-node
 * NodeHost on a real store; the entry is proposed straight into the core, as a peer's append would bring it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Random } from '../../../src/base';
import { loadNodeConfig } from '../../../src/config';
import { NodeHost, WHOLE_KEYSPACE_GROUP } from '../../../src/node';
import { createNodeMetrics, type Logger } from '../../../src/obs';
import type { RawNode } from '../../../src/raft';
import { NodeStore } from '../../../src/storage';
import type { Transport } from '../../../src/transport';

const transport = {
  setHandler() {},
  setPeer() {},
  removePeer() {},
  send: () => true,
  flush() {},
  queuedMessages: () => 0,
  sendSnapshot: () => Promise.reject(new Error('single node')),
};

it('applies an undecodable committed entry as a no-op: counted, logged once, the node keeps working', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-undecodable-'));
  const config = loadNodeConfig({
    argv: [
      '--id',
      '1',
      '--listen',
      '127.0.0.1:7101',
      '--peers',
      '1=127.0.0.1:7101',
      '--data-dir',
      dir,
      '--heartbeat-ms',
      '10',
      '--election-ms',
      '50',
    ],
    env: {},
  });
  const store = await NodeStore.open(dir);
  const metrics = createNodeMetrics();
  const errors: string[] = [];
  const noop = (): void => undefined;
  const logger: Logger = {
    fatal: noop,
    error: (_o, msg) => void errors.push(String(msg)),
    warn: noop,
    info: noop,
    debug: noop,
    child: () => logger,
  };
  const fatal: unknown[] = [];
  const host = await NodeHost.open({
    config,
    store,
    transport: transport as unknown as Transport,
    logger,
    metrics,
    random: new Random(7),
    onFatal: (e) => fatal.push(e),
  });
  try {
    const deadline = Date.now() + 5000;
    while (host.groupStatus(WHOLE_KEYSPACE_GROUP).role !== 'leader' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(host.groupStatus(WHOLE_KEYSPACE_GROUP).role).toBe('leader');
    const core = (host as unknown as { groups: Map<number, { core: RawNode }> }).groups.get(WHOLE_KEYSPACE_GROUP)!.core;
    for (const garbage of [Buffer.from([0xc1]), Buffer.from('not a command')]) {
      const out = core.propose(garbage);
      expect(out.ok).toBe(true);
    }
    // A real write after them commits and applies: the node did not stop.
    const { result } = await host.propose(WHOLE_KEYSPACE_GROUP, {
      type: 'put',
      key: Buffer.from('k'),
      value: Buffer.from('v'),
      session: null,
    });
    expect(result).toMatchObject({ type: 'put' });
    expect(fatal).toEqual([]);
    const counted = (await metrics.undecodableEntries.get()).values.find((v) => v.labels.group === '1')?.value;
    expect(counted).toBe(2);
    expect(errors.filter((m) => m.includes('does not decode'))).toHaveLength(1);
  } finally {
    await host.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
