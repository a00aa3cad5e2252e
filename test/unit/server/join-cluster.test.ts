/**
 * --join registration (server/join-cluster.ts) against a scripted meta shard: the command it sends, the
 * NOT_LEADER hints it follows, and the refusals that end the start with a clear CONFIG error.
 */
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { encodeRecord } from '../../../src/codec';
import { decodeMetaCommand, type MetaCommand } from '../../../src/meta';
import { silentLogger } from '../../../src/obs';
import { registerJoiningNode, type JoinDeps } from '../../../src/server/join-cluster';

const CLUSTER = '0123456789abcdef0123456789abcdef';
const APPLIED = encodeRecord([1]);
const refused = (reason: string, message: string) => encodeRecord([2, reason, message]);

/** Deps whose forward answers with `answer(to, command)`, recording every call. */
function deps(answer: (to: number, c: MetaCommand) => Buffer, over: Partial<JoinDeps> = {}) {
  const calls: { to: number; command: MetaCommand }[] = [];
  const d: JoinDeps = {
    self: 4,
    clusterId: CLUSTER,
    askClusterId: null,
    peerAddress: null,
    address: '127.0.0.1:7004',
    peers: [1, 2, 3, 4],
    forward: async (to, data) => {
      const command = decodeMetaCommand(data);
      calls.push({ to, command });
      return answer(to, command);
    },
    retryMs: 1,
    timeoutMs: 2000,
    logger: silentLogger(),
    ...over,
  };
  return { d, calls };
}

describe('registerJoiningNode', () => {
  it('sends registerNode with its id, cluster id and address, following the NOT_LEADER hint to the meta leader', async () => {
    const { d, calls } = deps((to) => {
      if (to !== 3) throw new TesseraError('NOT_LEADER', 'not the meta leader', { leaderId: 3, groupId: 2 });
      return APPLIED;
    });
    expect(await registerJoiningNode(d)).toBe('registered');
    expect(calls.map((c) => c.to)).toEqual([1, 3]);
    expect(calls[1]!.command).toMatchObject({
      type: 'registerNode',
      clusterId: CLUSTER,
      nodeId: 4,
      address: '127.0.0.1:7004',
    });
  });

  it('tries the other peers when one is unreachable, never itself', async () => {
    const { d, calls } = deps((to) => {
      if (to === 1) throw new TesseraError('UNAVAILABLE', 'no connection');
      return APPLIED;
    });
    expect(await registerJoiningNode(d)).toBe('registered');
    expect(calls.map((c) => c.to)).toEqual([1, 2]);
  });

  it.each([
    ['node-id-taken', 'node id 4 is registered at 127.0.0.1:7001, not 127.0.0.1:7004', /unused --id/],
    ['cluster-mismatch', 'node 4 belongs to cluster x, this is y', /another cluster/],
    ['address-taken', 'address 127.0.0.1:7004 is registered to node 2', /--advertise-address/],
    ['node-removed', 'node id 4 was removed from the cluster', /new --id/],
  ])(
    'a %s refusal is a CONFIG error naming the rule, the reason and the remedy, not retried',
    async (rule, message, remedy) => {
      const { d, calls } = deps(() => refused(rule, message));
      const e = (await registerJoiningNode(d).catch((x: unknown) => x)) as TesseraError;
      expect(e).toBeInstanceOf(TesseraError);
      expect(e.code).toBe('CONFIG');
      expect(e.message).toContain(`the cluster refused node 4 (${rule})`);
      expect(e.message).toContain(message);
      expect(e.message).toMatch(remedy);
      expect(calls).toHaveLength(1);
    },
  );

  it('a NOT_LEADER hint naming its own id means another node holds the id: refused as node-id-taken', async () => {
    const { d, calls } = deps(() => {
      throw new TesseraError('NOT_LEADER', 'not the meta leader', { leaderId: 4, groupId: 2 });
    });
    const e = (await registerJoiningNode(d).catch((x: unknown) => x)) as TesseraError;
    expect(e.code).toBe('CONFIG');
    expect(e.message).toMatch(/\(node-id-taken\).*another node holds id 4/);
    expect(calls).toHaveLength(1);
  });

  it('gives up within its bound when no peer answers (UNAVAILABLE naming the peers)', async () => {
    const { d } = deps(
      () => {
        throw new TesseraError('UNAVAILABLE', 'no connection');
      },
      { timeoutMs: 100 },
    );
    const t0 = Date.now();
    const e = (await registerJoiningNode(d).catch((x: unknown) => x)) as TesseraError;
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.message).toMatch(/through peers 1, 2, 3/);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('without a cluster id and no way to ask for it (no peer TLS) it does not register (member add remains the way in)', async () => {
    const { d, calls } = deps(() => APPLIED, { clusterId: null });
    expect(await registerJoiningNode(d)).toBe('skipped');
    expect(calls).toHaveLength(0);
  });

  it('without a cluster id it asks the peers in turn (peer TLS), then registers with the id it was told', async () => {
    const asked: number[] = [];
    const { d, calls } = deps(() => APPLIED, {
      clusterId: null,
      askClusterId: async (to) => {
        asked.push(to);
        if (to !== 2) throw new TesseraError('UNAVAILABLE', `peer ${to} did not tell`);
        return CLUSTER;
      },
    });
    expect(await registerJoiningNode(d)).toBe('registered');
    expect(asked).toEqual([1, 2]);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.command).toMatchObject({ type: 'registerNode', clusterId: CLUSTER, nodeId: 4 });
  });

  it('when no peer tells the cluster id, the start fails with UNAVAILABLE within its timeout, naming the last reason', async () => {
    const asked: number[] = [];
    const { d, calls } = deps(() => APPLIED, {
      clusterId: null,
      timeoutMs: 150,
      askClusterId: async (to) => {
        asked.push(to);
        throw new TesseraError('UNAVAILABLE', `peer ${to} refused the ask`);
      },
    });
    const t0 = Date.now();
    const e = (await registerJoiningNode(d).catch((x: unknown) => x)) as TesseraError;
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.message).toMatch(/no peer of 1, 2, 3 told node 4 the cluster id .*refused the ask/);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(asked.length).toBeGreaterThan(3); // retried, never itself
    expect(asked).not.toContain(4);
    expect(calls).toHaveLength(0);
  });
});
