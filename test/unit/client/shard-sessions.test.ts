/**
 * Sessions per shard (issue 10, "Routing"; src/client/session-writer.ts) against in-process fake nodes in
 * sharded mode, whose shards each keep their own session table: the SDK opens its session on a shard
 * before its first write there; a SESSION_EXPIRED from a shard it never opened on (a stale cache) opens the
 * session there and sends the same write once more, keeping the session; a session a shard forgot is still
 * retired, never re-registered.
 */
import { describe, expect, it } from 'vitest';
import type { FakeCluster } from './fake-cluster';
import { shardedFakes } from './sharded-fakes';

const sharded = shardedFakes({ sessionsMax: 1 });

const putCalls = (c: FakeCluster): number => c.nodes.reduce((n, x) => n + x.callsOf('Put'), 0);
/** The client id of every OpenSession applied, by shard: `<shard>:<hex id>`. */
const opens = (c: FakeCluster): string[] => [...c.opened];

describe('sessions per shard', () => {
  it('opens the session on each shard before its first write there', async () => {
    const { c: cluster, cl: client } = await sharded(2, [
      { id: 1, start: '', end: 'm', nodes: [1, 2], leader: 1 },
      { id: 2, start: 'm', end: null, nodes: [1, 2], leader: 2 },
    ]);
    await client.put('a', '1');
    await client.put('z', '1');
    await client.put('b', '2');
    await client.put('y', '2');
    const [first, second, ...more] = opens(cluster);
    expect(more).toEqual([]);
    expect(first?.split(':')[0]).toBe('1');
    expect(second).toBe(`2:${first?.split(':')[1]}`); // the same session, now on shard 2
    // Every write was sent once: none met SESSION_EXPIRED.
    expect(putCalls(cluster)).toBe(4);
    expect(cluster.get('z')).toBe('1');
    expect(client.sessionCount()).toBe(1);
  });

  it('SESSION_EXPIRED from a shard never opened on (stale cache): opens it there, sends the write once more', async () => {
    const {
      c: cluster,
      cl: client,
      shards,
    } = await sharded(2, [{ id: 1, start: '', end: null, nodes: [1, 2], leader: 1 }]);
    await client.put('a', '1');
    const id = opens(cluster)[0]!.split(':')[1];
    // The shard splits; the right half does not hold the session (as if it was opened after the cut).
    const { right } = shards.split(Buffer.from('m'));
    right.sessions.clear();
    await client.put('z', '1'); // the cache still says shard 1, where the session is open
    expect(cluster.get('z')).toBe('1');
    expect(opens(cluster)).toEqual([`1:${id}`, `${right.d.id}:${id}`]); // kept, not replaced by a new session
    expect(cluster.seqLog.filter((x) => x.clientId === id).map((x) => x.seq)).toEqual([1, 2]);
    // The session is known to be open there now: the next write to the right half opens nothing.
    await client.put('y', '1');
    expect(opens(cluster).length).toBe(2);
  });

  it('a session a shard it was opened on forgot is retired, not re-registered', async () => {
    const {
      c: cluster,
      cl: client,
      shards,
    } = await sharded(1, [{ id: 1, start: '', end: null, nodes: [1], leader: 1 }]);
    await client.put('a', '1');
    const id = opens(cluster)[0]!.split(':')[1]!;
    shards.byId(1)!.sessions.delete(id); // evicted
    cluster.sessions.delete(id);
    await client.put('b', '1'); // no attempt applied: sent again under a new session
    const ids = opens(cluster).map((x) => x.split(':')[1]);
    expect(ids.length).toBe(2);
    expect(ids[1]).not.toBe(id);
    expect(cluster.get('b')).toBe('1');
  });
});
