// The hostile nemesis's pure parts: the seeded attack order, `--nemesis`/`--attacks` parsing (hostile is
// not part of `all`), and garbage that no protobuf decoder can take for a real request.
import { describe, expect, it } from 'vitest';
import { Random } from '../../src/base';
import { attackNames, insiderAttacks, memberPowers, pickTarget } from '../hostile/catalogue';
import { garbage } from '../hostile/client-abuse';
import { defaultAttackPlan, planAttacks } from '../hostile/hostile-nemesis';
import { protoType } from '../hostile/wire';
import { parseNemesisList } from '../nemesis/plan';
import { parseRunArgs } from '../run/options';
import type { ClusterView } from '../hostile/cluster-view';

describe('hostile attack plan', () => {
  const opts = { ...defaultAttackPlan, attacks: attackNames };

  it('is the same for the same seed, different for another, and bounded', () => {
    const a = planAttacks(new Random(5), opts);
    expect(planAttacks(new Random(5), opts)).toEqual(a);
    expect(planAttacks(new Random(6), opts).map((p) => p.attack)).not.toEqual(a.map((p) => p.attack));
    expect(a).toHaveLength(defaultAttackPlan.attacksMax);
    expect(a[0]!.gapMs).toBe(defaultAttackPlan.firstMs);
    for (const p of a.slice(1)) expect(p.gapMs).toBeGreaterThanOrEqual(defaultAttackPlan.gapMs[0]);
  });

  it('fires every attack once before any attack repeats', () => {
    const a = planAttacks(new Random(9), opts);
    expect(new Set(a.slice(0, attackNames.length).map((p) => p.attack)).size).toBe(attackNames.length);
  });

  it('draws only from the attacks asked for', () => {
    const a = planAttacks(new Random(1), { ...opts, attacks: ['vote-flood', 'garbage-rpc'], attacksMax: 7 });
    expect(a).toHaveLength(7);
    expect(new Set(a.map((p) => p.attack))).toEqual(new Set(['vote-flood', 'garbage-rpc']));
  });

  it('aims leader attacks at the leader and follower attacks at a follower', () => {
    const view: ClusterView = {
      groupId: 1,
      leader: 2,
      term: 3,
      voters: [1, 2, 3],
      members: [],
      nodes: new Map(
        [1, 2, 3].map((id) => [
          id,
          { id, role: id === 2 ? 'leader' : 'follower', term: 3, leader: 2, commit: 5, lastIndex: 5 },
        ]),
      ),
    };
    const rng = new Random(3);
    for (let i = 0; i < 20; i++) {
      expect(pickTarget('ack-beyond-log', view, [1, 2, 3], rng)).toBe(2);
      expect(pickTarget('install-snapshot', view, [1, 2, 3], rng)).not.toBe(2);
    }
  });
});

describe('hostile options', () => {
  it('hostile is asked for by name, never by all', () => {
    expect(parseNemesisList('all')).not.toContain('hostile');
    expect(parseNemesisList('hostile')).toEqual(['hostile']);
    expect(parseNemesisList('kill,hostile')).toEqual(['kill', 'hostile']);
  });

  it('--attacks restricts the attacks and refuses unknown ones', () => {
    expect(parseRunArgs(['--nemesis', 'hostile']).attacks).toEqual([...attackNames]);
    expect(parseRunArgs(['--nemesis', 'hostile', '--attacks', 'vote-flood,timeout-now']).attacks).toEqual([
      'vote-flood',
      'timeout-now',
    ]);
    expect(() => parseRunArgs(['--attacks', 'rm-rf'])).toThrow(/unknown attack 'rm-rf'/);
  });

  it('an insider draws from everything but what a member may do, unless --attacks says otherwise', () => {
    const o = parseRunArgs(['--nemesis', 'hostile', '--attacker', 'insider']);
    expect(o.attacker).toBe('insider');
    expect(o.attacks).toEqual([...insiderAttacks]);
    for (const a of memberPowers) expect(o.attacks).not.toContain(a);
    expect(o.attacks).toContain('append-gap');
    expect(parseRunArgs(['--attacker', 'insider', '--attacks', 'append-put']).attacks).toEqual(['append-put']);
    expect(() => parseRunArgs(['--attacker', 'spy'])).toThrow(/outsider or insider/);
  });
});

describe('garbage', () => {
  it('never decodes as a request (its first tag is field 0 with wire type 7)', () => {
    const rng = new Random(42);
    for (const type of ['AddNodeRequest', 'RemoveNodeRequest', 'PutRequest', 'MessageBatch', 'SnapshotChunk']) {
      for (let i = 0; i < 500; i++) expect(() => protoType(type).decode(garbage(rng, rng.int(1, 64)))).toThrow();
    }
  });
});
