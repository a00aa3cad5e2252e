/**
 * The named attacks of the hostile suite (issue 8, section 4): every finding of section 1 as a forged
 * peer message, malformed input, session abuse, and Admin calls that would break quorum. Each attack
 * picks its target (the leader, a follower, or any node) from what Admin.Status tells, fires, undoes
 * what it must so the cluster stays testable (members it added, nodes it paused), and returns the node's
 * answers plus the effects it saw itself.
 *
 * Attacks never touch the workload's keys; planted keys are recorded in the context so the caller can
 * check that none of them became readable.
 */
import type { Random } from '../../src/base';
import { Client } from '../../src/client';
import { learnCluster, type ClusterView, type NodeDoor } from './cluster-view';
import {
  addNodeLongAddress,
  addNode,
  addUnreachableVoters,
  garbageOnEveryRpc,
  oversizedFields,
  removeIfMember,
  removeNode,
  sessionFlood,
  sessionSeqReuse,
  unknownEnums,
  unknownSessionHighSeq,
} from './client-abuse';
import type { FakeNode } from './fake-node';
import {
  FAKE_LEADER_ID,
  PLANTED_PREFIX,
  forgedAckBeyondLog,
  forgedAppendAcks,
  forgedFakeLeaderHeartbeats,
  forgedGapAppend,
  forgedInstallSnapshot,
  forgedPutAppend,
  forgedSnapshotOnStream,
  forgedTimeoutNow,
  forgedUndecodableAppend,
  forgedVoteFlood,
  forgedVoteNearUnsafeTerm,
  sendRawPeerBytes,
  type PeerAttackOptions,
} from './peer-forgeries';
import type { Answer } from './wire';

export const attackNames = [
  'install-snapshot',
  'append-undecodable',
  'append-gap',
  'ack-beyond-log',
  'snapshot-on-stream',
  'vote-unsafe-term',
  'vote-flood',
  'fake-leader-heartbeats',
  'timeout-now',
  'forged-acks',
  'append-put',
  'garbage-rpc',
  'oversized-fields',
  'unknown-enums',
  'long-address',
  'session-seq-reuse',
  'session-flood',
  'session-unknown-seq',
  'add-unreachable-voters',
  'remove-below-quorum',
  'fake-leader-hint',
  'cluster-id-theft',
] as const;
export type AttackName = (typeof attackNames)[number];

/**
 * What a member may do in Raft, which trusts its members: an insider (who holds the cluster id) forging
 * these speaks as a Byzantine member, and no node can be blamed for obeying. The insider's attacks are the
 * others: messages no correct member sends (gaps, acks beyond the log, unsafe terms, undecodable bytes)
 * and everything on the client door.
 */
export const memberPowers: readonly AttackName[] = [
  'install-snapshot',
  'append-put',
  'timeout-now',
  'vote-flood',
  'forged-acks',
  'fake-leader-hint',
  'cluster-id-theft',
];
export const insiderAttacks: readonly AttackName[] = attackNames.filter((a) => !memberPowers.includes(a));

export type AttackTarget = 'leader' | 'follower' | 'any';

export interface AttackContext {
  doors: readonly NodeDoor[];
  rng: Random;
  /** The attacker's listener, where the forged leader 99 "lives". */
  fake: FakeNode;
  /** Keys planted by forgeries (appended by the attacks); none may ever be readable. */
  plantedKeys: string[];
  /** Harness hooks (SIGSTOP / SIGCONT, re-adding a removed member); without them remove-below-quorum is skipped. */
  pause?(id: number): void;
  resume?(id: number): void;
  readd?(leader: number, id: number): Promise<void>;
  /** Election timeout of the nodes (ms): how long a paused node takes to count as down. Default 1000. */
  electionMs?: number;
  /**
   * An insider's cluster id: peer forgeries carry it, so they pass the handshake and test the next line
   * (validation of every message in the node and the Raft core). Absent: a random guess, as an outsider.
   */
  clusterId?: string;
}

export interface AttackResult {
  attack: AttackName;
  node: number | null;
  answers: Answer[];
  /** What the attacker saw happen besides the answers (calls that reached it, members left behind). */
  effects: string[];
  summary: string;
  elapsedMs: number;
}

interface AttackSpec {
  target: AttackTarget;
  run(
    ctx: AttackContext,
    view: ClusterView,
    door: NodeDoor,
    tag: string,
  ): Promise<{ answers: Answer[]; effects?: string[] }>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const one = async (p: Promise<Answer>): Promise<{ answers: Answer[] }> => ({ answers: [await p] });

function doorOf(ctx: AttackContext, id: number): NodeDoor {
  const d = ctx.doors.find((x) => x.id === id);
  if (!d) throw new RangeError(`no node ${id}`);
  return d;
}

/** Peer options of the context: an insider's cluster id, or none (a guess). */
const peer = (ctx: AttackContext): PeerAttackOptions =>
  ctx.clusterId === undefined ? {} : { clusterId: ctx.clusterId };

function planted(ctx: AttackContext, tag: string): string {
  const key = `${PLANTED_PREFIX}${tag}`;
  ctx.plantedKeys.push(key);
  return key;
}

const specs: Record<AttackName, AttackSpec> = {
  'install-snapshot': {
    target: 'follower',
    run: (ctx, v, d, tag) => one(forgedInstallSnapshot(d, v, planted(ctx, tag), peer(ctx))),
  },
  'append-undecodable': { target: 'follower', run: (ctx, v, d) => one(forgedUndecodableAppend(d, v, peer(ctx))) },
  'append-gap': { target: 'follower', run: (ctx, v, d) => one(forgedGapAppend(d, v, peer(ctx))) },
  'ack-beyond-log': { target: 'leader', run: (ctx, v, d) => one(forgedAckBeyondLog(d, v, peer(ctx))) },
  'snapshot-on-stream': { target: 'follower', run: (ctx, v, d) => one(forgedSnapshotOnStream(d, v, peer(ctx))) },
  'vote-unsafe-term': { target: 'any', run: (ctx, v, d) => one(forgedVoteNearUnsafeTerm(d, v, peer(ctx))) },
  'vote-flood': {
    target: 'any',
    run: async (ctx, v) => ({
      answers: await Promise.all(ctx.doors.map((d) => forgedVoteFlood(d, v, 200, 1500, peer(ctx)))),
    }),
  },
  'fake-leader-heartbeats': {
    target: 'follower',
    run: async (ctx, v) => ({
      answers: await Promise.all(
        ctx.doors.filter((d) => d.id !== v.leader).map((d) => forgedFakeLeaderHeartbeats(d, v, 15, 100, peer(ctx))),
      ),
    }),
  },
  'timeout-now': { target: 'follower', run: (ctx, v, d) => one(forgedTimeoutNow(d, v, peer(ctx))) },
  'forged-acks': {
    target: 'leader',
    run: async (ctx, v, d) => {
      const index = async (): Promise<number> => (await learnCluster([d])).nodes.get(d.id)?.lastIndex ?? 0;
      return { answers: await forgedAppendAcks(d, v, index, 5, 100, peer(ctx)) };
    },
  },
  'append-put': { target: 'leader', run: (ctx, v, d, tag) => one(forgedPutAppend(d, v, planted(ctx, tag), peer(ctx))) },
  'garbage-rpc': {
    target: 'any',
    run: async (ctx, v, d) => {
      const answers = await garbageOnEveryRpc(d, ctx.rng);
      // A well-formed batch whose messages do not decode (the raft codec must drop them).
      const from = v.voters.find((x) => x !== d.id) ?? FAKE_LEADER_ID;
      answers.push(
        await sendRawPeerBytes(
          d,
          from,
          [Buffer.from([0xc1]), Buffer.from('not msgpack at all'), Buffer.alloc(0)],
          peer(ctx),
        ),
      );
      return { answers };
    },
  },
  'oversized-fields': { target: 'leader', run: async (_c, _v, d) => ({ answers: await oversizedFields(d) }) },
  'unknown-enums': { target: 'leader', run: async (_c, _v, d) => ({ answers: await unknownEnums(d) }) },
  'long-address': {
    target: 'leader',
    run: async (_c, _v, d) => {
      const a = await addNodeLongAddress(d, 97);
      const undo = a.code === 'OK' ? await removeIfMember(d, [97]) : [];
      return {
        answers: [a],
        effects:
          a.code === 'OK'
            ? [`node 97 with a 10 KiB address joined; removal: ${undo.map((x) => x.code).join(',') || 'not needed'}`]
            : [],
      };
    },
  },
  'session-seq-reuse': {
    target: 'leader',
    run: async (_c, _v, d, tag) => ({ answers: await sessionSeqReuse(d, tag) }),
  },
  'session-flood': { target: 'leader', run: async (_c, _v, d) => ({ answers: await sessionFlood(d, 1500, 32, 4000) }) },
  'session-unknown-seq': { target: 'leader', run: (_c, _v, d, tag) => one(unknownSessionHighSeq(d, tag)) },
  'add-unreachable-voters': {
    target: 'leader',
    run: async (_c, _v, d) => {
      const ids = [91, 92, 93];
      const answers = await addUnreachableVoters(d, ids);
      const undo = await removeIfMember(d, ids);
      const effects = undo.length
        ? [
            `removal of the added members: ${undo.map((x) => `${x.code}${x.detail ? ` (${x.detail})` : ''}`).join(', ')}`,
          ]
        : [];
      return { answers, effects };
    },
  },
  'remove-below-quorum': {
    target: 'leader',
    run: async (ctx, v, d) => {
      const followers = v.voters.filter((x) => x !== d.id && ctx.doors.some((y) => y.id === x));
      if (!ctx.pause || !ctx.resume || followers.length < 2)
        return { answers: [{ code: 'SKIPPED', detail: 'needs pause hooks and two followers' }] };
      const [down, victim] = ctx.rng.shuffle([...followers]) as [number, number];
      ctx.pause(down);
      let answer: Answer;
      try {
        await sleep(2.5 * (ctx.electionMs ?? 1000));
        answer = await removeNode(d, victim);
      } finally {
        ctx.resume(down);
      }
      const effects: string[] = [`node ${down} paused; RemoveNode ${victim} answered ${answer.code}`];
      if (answer.code === 'OK' && ctx.readd) {
        try {
          await sleep(2 * (ctx.electionMs ?? 1000));
          const now = await learnCluster(ctx.doors);
          await ctx.readd(now.leader ?? d.id, victim);
          effects.push(`node ${victim} re-added`);
        } catch (e) {
          effects.push(`re-adding node ${victim} failed: ${(e as Error).message}`);
        }
      }
      return {
        answers: [{ code: answer.code, detail: `RemoveNode ${victim} while ${down} is down: ${answer.detail}` }],
        effects,
      };
    },
  },
  'fake-leader-hint': {
    target: 'leader',
    run: async (ctx, v, d, tag) => {
      const before = ctx.fake.clientCalls;
      const added = await addNode(d, FAKE_LEADER_ID, ctx.fake.address, true);
      const victim = new Client({ endpoints: ctx.doors.map((x) => x.clientAddress), deadlineMs: 2500 });
      const hb = Promise.all(ctx.doors.map((x) => forgedFakeLeaderHeartbeats(x, v, 20, 100, peer(ctx))));
      await sleep(300);
      const sdk: string[] = [];
      for (const op of ['put', 'get'] as const) {
        try {
          if (op === 'put') await victim.put(`hostile/hint/${tag}`, 'v');
          else await victim.get(`hostile/hint/${tag}`);
          sdk.push(`${op} ok`);
        } catch (e) {
          sdk.push(`${op} ${(e as Error).message.slice(0, 80)}`);
        }
      }
      const heartbeats = await hb;
      await victim.close();
      const reached = ctx.fake.clientCalls - before;
      const now = await learnCluster(ctx.doors);
      const undo =
        added.code === 'OK'
          ? await removeIfMember(now.leader !== null ? doorOf(ctx, now.leader) : d, [FAKE_LEADER_ID])
          : [];
      return {
        answers: [{ code: added.code, detail: `AddNode 99 at the attacker: ${added.detail}` }, ...heartbeats],
        effects: [
          `${reached} SDK call(s) reached the attacker (calls so far: ${[...ctx.fake.calls].map(([k, n]) => `${k} x${n}`).join(', ') || 'none'}); victim SDK: ${sdk.join('; ')}`,
          ...(undo.length ? [`removal of node 99: ${undo.map((x) => x.code).join(',')}`] : []),
        ],
      };
    },
  },
  'cluster-id-theft': {
    target: 'leader',
    run: async (ctx, v, d, tag) => {
      const { clusterId, answers } = await stealClusterId(d, ctx.fake, 98, 3000);
      const effects: string[] = [];
      // A member's own handshake to "node 98", replayed to the other nodes as if that member spoke to them.
      const captured = ctx.fake.lastPeerHandshake;
      if (captured) {
        for (const x of ctx.doors.filter((y) => y.id !== d.id && v.nodes.has(y.id))) {
          const a = await forgedInstallSnapshot(x, v, planted(ctx, `${tag}-replay-${x.id}`), { replay: captured });
          answers.push({ code: a.code, detail: `leader's handshake replayed to node ${x.id}: ${a.detail}` });
        }
        effects.push(
          `a member dialed the attacker (a handshake from node ${String(captured.get('x-tessera-node')[0])}); replays answered ${answers
            .slice(-2)
            .map((a) => a.code)
            .join(', ')}`,
        );
      }
      if (clusterId === null) return { answers, effects: [...effects, 'no cluster id reached the attacker'] };
      // Speak as members with the stolen id: a snapshot to a follower, a put append to the leader.
      const follower = ctx.doors.find((x) => x.id !== d.id && v.nodes.has(x.id)) ?? d;
      answers.push(await forgedInstallSnapshot(follower, v, planted(ctx, `${tag}-snapshot`), { clusterId }));
      answers.push(await forgedPutAppend(d, v, planted(ctx, `${tag}-put`), { clusterId }));
      effects.push(
        `the leader's handshake gave the attacker the cluster id (${clusterId.slice(0, 4)}…); forgeries with it answered ${answers
          .slice(-2)
          .map((a) => `${a.code} ${a.detail}`.trim())
          .join(', ')}`,
      );
      return { answers, effects };
    },
  },
};

/**
 * The cluster id through the client door: Admin.AddNode of a learner at the attacker's own listener makes
 * the leader dial it as a member, and a member's handshake carries the cluster id. Resolves to the id (or
 * null after waitMs) and the AddNode answer; the learner is removed again either way.
 */
export async function stealClusterId(
  leader: NodeDoor,
  fake: FakeNode,
  id: number,
  waitMs: number,
): Promise<{ clusterId: string | null; answers: Answer[] }> {
  fake.lastPeerHandshake = null;
  const added = await addNode(leader, id, fake.address, true);
  const end = Date.now() + waitMs;
  while (added.code === 'OK' && fake.clusterIdsSeen.size === 0 && Date.now() < end) await sleep(100);
  const undo = await removeIfMember(leader, [id]);
  const answers = [{ code: added.code, detail: `AddNode ${id} learner at the attacker: ${added.detail}` }, ...undo];
  return { clusterId: [...fake.clusterIdsSeen][0] ?? null, answers };
}

export function attackTarget(name: AttackName): AttackTarget {
  return specs[name].target;
}

/** Counts of answer codes, e.g. "OK x2, UNAUTHENTICATED x1". */
export function summarizeAnswers(answers: readonly Answer[]): string {
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a.code, (counts.get(a.code) ?? 0) + 1);
  return [...counts].map(([c, n]) => (n === 1 ? c : `${c} x${n}`)).join(', ') || 'no answers';
}

/** One line for logs: the answer counts, the first answers' details (cut), and the effects seen. */
export function describeResult(r: AttackResult): string {
  const details = r.answers
    .slice(0, 2)
    .map((a) => a.detail)
    .filter((d) => d !== '')
    .map((d) => d.slice(0, 120));
  return `${r.attack} -> node ${r.node}: ${r.summary}${details.length ? ` (${details.join(' / ')})` : ''}${r.effects.length ? ` | ${r.effects.join('; ')}` : ''}`;
}

/** Picks the node an attack hits, from a fresh view: its preferred role if some node has it, else any. */
export function pickTarget(name: AttackName, view: ClusterView, ids: readonly number[], rng: Random): number {
  const target = specs[name].target;
  const live = ids.filter((id) => view.nodes.has(id));
  const pool = live.length ? live : [...ids];
  if (target === 'leader' && view.leader !== null && pool.includes(view.leader)) return view.leader;
  if (target === 'follower') {
    const followers = pool.filter((id) => id !== view.leader);
    if (followers.length) return rng.pick(followers);
  }
  return rng.pick(pool);
}

/** Runs one attack against node `nodeId` (or the node its role prefers when null). */
export async function runAttack(
  name: AttackName,
  ctx: AttackContext,
  nodeId: number | null = null,
  tag = `${name}-${Date.now()}`,
): Promise<AttackResult> {
  const t0 = Date.now();
  const view = await learnCluster(ctx.doors);
  const id =
    nodeId ??
    pickTarget(
      name,
      view,
      ctx.doors.map((d) => d.id),
      ctx.rng,
    );
  const { answers, effects = [] } = await specs[name].run(ctx, view, doorOf(ctx, id), tag);
  return { attack: name, node: id, answers, effects, summary: summarizeAnswers(answers), elapsedMs: Date.now() - t0 };
}
