/**
 * Shard commands of the tessera CLI: `shard list` (every endpoint's hosted shards with their stats, folded
 * into one entry per shard: shard-view.ts), `shard split KEY` (on the owning shard's leader; returns when
 * the split applied there) and `shard move SHARD --from N --to M` (Admin.MoveReplica on the shard's leader;
 * returns when the move is done, or once started with --no-wait). A node reports only the shards it hosts,
 * so `shard list` asks every endpoint given, every member their Status names and every registered node
 * (bounded); nodes that do not answer are named on stderr, and the command fails only when none answered
 * (with the first endpoint's error: unreachable exits 3).
 */
import type { Client, ShardInfo } from '../../src/client';
import { EXIT_OK, UsageError, decodeArg, expectPositionals, intOption, json, parse, withClient } from './args';
import type { GlobalOptions, Io } from './args';
import { foldShardReports, printableKey, renderShardTable, renderSplit, shardJson } from './shard-view';

export const shardHelp = `Shard commands:
  shard list [--json]               every shard: range, epoch, replicas, leader, keys and bytes (asks the
                                    endpoints and the members they know for the shards each hosts); keys
                                    printed as themselves when printable ASCII, else as 0x + hex (also a
                                    printable key that starts with 0x)
  shard split KEY                   split the shard owning KEY at KEY (KEY starts the right-hand shard);
                                    waits until the split applied and prints both shards
  shard move SHARD --from N --to M [--no-wait]
                                    move shard SHARD's replica from node N to node M (M is added as a
                                    learner, caught up, promoted, then N is removed; the shard never has
                                    fewer voters); waits until done (give --deadline-ms for big shards)
                                    and prints the members, unless --no-wait (returns once started)`;

const SHARD_USAGE =
  'usage: tessera shard list [--json] | shard split KEY | shard move SHARD --from N --to M [--no-wait]';
const MOVE_USAGE = 'tessera shard move SHARD --from N --to M [--no-wait]';

export async function shardCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, { from: { type: 'string' }, to: { type: 'string' }, 'no-wait': { type: 'boolean' } });
  const sub = p.positionals[0];
  if (sub === 'list') {
    expectPositionals(p, 1, 1, 'tessera shard list [--json]');
    return shardList(p.global, io);
  }
  if (sub === 'split') {
    const [, key] = expectPositionals(p, 2, 2, 'tessera shard split KEY');
    const k = decodeArg(key!, p.global.encoding, 'KEY');
    if (k.length === 0) throw new UsageError('KEY must not be empty');
    const r = await withClient(p.global, (c) => c.splitShard(k, { timeoutMs: p.global.deadlineMs }));
    io.out(
      p.global.json
        ? json({ key: printableKey(k), left: shardJson(r.left), right: shardJson(r.right) })
        : renderSplit(k, r),
    );
    return EXIT_OK;
  }
  if (sub === 'move') return shardMove(p, io);
  throw new UsageError(SHARD_USAGE);
}

async function shardMove(p: ReturnType<typeof parse>, io: Io): Promise<number> {
  const [, shardText] = expectPositionals(p, 2, 2, MOVE_USAGE);
  if (!/^\d+$/.test(shardText!) || Number(shardText) <= 0 || Number(shardText) > 0xffff_ffff)
    throw new UsageError(`SHARD must be a shard id (a positive integer), got '${shardText}'`);
  if (p.values.from === undefined || p.values.to === undefined) throw new UsageError(`usage: ${MOVE_USAGE}`);
  const shard = Number(shardText);
  const from = intOption(p.values, 'from', 0, 1, 0xffff_ffff);
  const to = intOption(p.values, 'to', 0, 1, 0xffff_ffff);
  if (from === to) throw new UsageError(`--from and --to are both node ${from}: nothing to move`);
  const noWait = p.values['no-wait'] === true;
  const members = await withClient(p.global, (c) =>
    c.moveReplica(shard, from, to, { noWait, deadlineMs: p.global.deadlineMs }),
  );
  const list = members.map((m) => `${m.id}${m.voter ? '' : '(learner)'}`).join(' ');
  io.out(
    p.global.json
      ? json({ shard, from, to, done: !noWait, members })
      : noWait
        ? `moving shard ${shard}'s replica from node ${from} to node ${to} (started; members now ${list})`
        : `moved shard ${shard}'s replica from node ${from} to node ${to}; members: ${list}`,
  );
  return EXIT_OK;
}

type ListAnswer = { endpoint: string; ok: true; shards: ShardInfo[] } | { endpoint: string; ok: false; error: Error };

/** Most nodes asked by `shard list` (the endpoints given and the members they report). */
const LIST_NODES_MAX = 256;

/**
 * The endpoints given, then every member address that their Status reports and every registered node that
 * is not removed (nodes not given may host shards; after replica moves, some host none of the endpoints').
 */
async function nodesToAsk(c: Client, g: GlobalOptions): Promise<string[]> {
  const addresses = new Set(g.endpoints);
  const timeoutMs = Math.min(g.deadlineMs, 2000);
  for (const s of await c.clusterStatus({ timeoutMs }))
    if (s.ok) for (const group of s.status.groups) for (const m of group.members) addresses.add(m.address);
  const registry = await c.listNodes({ deadlineMs: timeoutMs }).catch(() => []);
  for (const n of registry) if (n.state !== 'removed') addresses.add(n.address);
  return [...addresses].slice(0, LIST_NODES_MAX);
}

async function shardList(g: GlobalOptions, io: Io): Promise<number> {
  const answers = await withClient(g, async (c) =>
    Promise.all(
      (await nodesToAsk(c, g)).map(async (endpoint): Promise<ListAnswer> => {
        try {
          const shards = await c.listShards({ endpoint, withStats: true, timeoutMs: g.deadlineMs });
          return { endpoint, ok: true, shards };
        } catch (e) {
          return { endpoint, ok: false, error: e as Error };
        }
      }),
    ),
  );
  const reports: ShardInfo[][] = [];
  for (const a of answers) {
    if (a.ok) reports.push(a.shards);
    else io.err(`${a.endpoint}: ${a.error.message}`);
  }
  // None answered: the first endpoint's error decides the exit code (3 when unreachable or timed out).
  const failed = answers[0];
  if (reports.length === 0 && failed !== undefined && !failed.ok) throw failed.error;
  const shards = foldShardReports(reports);
  io.out(g.json ? json({ shards: shards.map(shardJson) }) : renderShardTable(shards));
  return EXIT_OK;
}
