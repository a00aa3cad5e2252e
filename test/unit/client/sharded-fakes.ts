/** The setup the sharded SDK tests share: fake nodes in sharded mode (fake-shards.ts) and a Client on them. */
import { afterEach } from 'vitest';
import { Client } from '../../../src/client';
import type { ClientOptions } from '../../../src/client';
import { FakeCluster } from './fake-cluster';
import { fakeDescriptor } from './fake-shards';

export interface ShardSpec {
  id: number;
  start: string;
  end: string | null;
  nodes: number[];
  leader: number;
}

/**
 * For a test file: `sharded(n, specs, options)` starts n fake nodes in sharded mode with these shards and a
 * Client on them (discover off); every test's cluster and client are stopped after it.
 */
export function shardedFakes(defaults: Partial<ClientOptions> = {}) {
  let cluster: FakeCluster | null = null;
  let client: Client | null = null;
  afterEach(async () => {
    await client?.close();
    cluster?.stop();
    client = null;
    cluster = null;
  });
  return async (n: number, specs: ShardSpec[], options: Partial<ClientOptions> = {}) => {
    cluster = await FakeCluster.start(n);
    const shards = cluster.useShards(
      specs.map((x) => ({ d: fakeDescriptor(x.id, x.start, x.end, x.nodes), leader: x.leader })),
    );
    client = new Client({ endpoints: cluster.endpoints(), discover: false, ...defaults, ...options });
    return { c: cluster, cl: client, shards };
  };
}
