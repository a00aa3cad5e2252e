import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Random } from '../../../src/base';
import { loadNodeConfig } from '../../../src/config';
import { openGroup, raftConfigOf } from '../../../src/node/group-open';
import { createNodeMetrics } from '../../../src/obs';
import { NodeStore } from '../../../src/storage';

describe('openGroup', () => {
  it('gives the state machine the configured session TTL and the core the configured commit mode', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-group-open-'));
    const store = await NodeStore.open(dir);
    try {
      const config = loadNodeConfig({
        argv: [
          '--id',
          '1',
          '--listen',
          '127.0.0.1:1',
          '--peers',
          '1=127.0.0.1:1',
          '--data-dir',
          dir,
          '--session-ttl-ms',
          '90000',
        ],
        env: {},
      });
      const { group } = await openGroup(
        1,
        { start: Buffer.alloc(0), end: null },
        config,
        store,
        createNodeMetrics(),
        new Random(1),
      );
      expect(group.kvSm.sessionTtlMs).toBe(90_000);
      expect(raftConfigOf(config).lazyCommit).toBe(true);
      expect(raftConfigOf({ ...config, raft: { ...config.raft, lazyCommit: false } }).lazyCommit).toBe(false);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
