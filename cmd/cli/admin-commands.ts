/**
 * Cluster commands of the tessera CLI: status (every endpoint's view, folded per replica group),
 * member add/remove, leader transfer.
 */
import { EXIT_OK, EXIT_UNAVAILABLE, UsageError, expectPositionals, intOption, json, parse, withClient } from './args';
import type { Io } from './args';
import { rangeText } from './shard-view';
import { summarize } from './status-summary';
import { table } from './table';
import type { ClusterSummary } from './status-summary';

export const adminHelp = `Cluster commands:
  status                            members, leader, term, commit and applied indexes per group
  member list                       the members of each group
  member add ID ADDRESS [--learner] [--peer-address HOST:PORT] [--group G]
                                    add a node (as a non-voting learner with --learner); ADDRESS is its
                                    client address, --peer-address its --peer-listen address if it has one
  member remove ID [--group G]      remove a node
                                    (--group: the group to change; default the first data shard, group 1;
                                    the placement driver keeps --replicas per shard, see shard move)
  leader transfer ID [--group G]    move a group's leadership to node ID`;

export async function statusCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, { 'timeout-ms': { type: 'string' } });
  expectPositionals(p, 0, 0, 'tessera status [--json]');
  const timeoutMs = intOption(p.values, 'timeout-ms', Math.min(p.global.deadlineMs, 2000), 1);
  const summary = await withClient(p.global, async (c) => summarize(await c.clusterStatus({ timeoutMs })));
  io.out(p.global.json ? json(summary) : renderStatus(summary));
  if (!summary.nodes.some((n) => n.ok)) {
    io.err('no endpoint answered');
    return EXIT_UNAVAILABLE;
  }
  return EXIT_OK;
}

export function renderStatus(s: ClusterSummary): string {
  const lines: string[] = [];
  for (const n of s.nodes) if (!n.ok) lines.push(`${n.endpoint}: unreachable (${n.error})`);
  for (const g of s.groups) {
    const leaderText = g.leader === 0 ? 'none' : String(g.leader);
    lines.push(
      `group ${g.groupId}: leader ${leaderText}, term ${g.term}, ${g.kind === 'meta' ? 'meta shard' : `range ${rangeText(g)}`}, members ${g.members.map((m) => `${m.id}${m.voter ? '' : '(learner)'}@${m.address}`).join(' ')}`,
    );
    const rows = [['NODE', 'ADDRESS', 'ROLE', 'TERM', 'LEADER', 'COMMIT', 'APPLIED', 'FIRST', 'LAST']];
    for (const r of g.replicas) {
      rows.push(
        [r.nodeId, r.address, r.role, r.term, r.leader, r.commit, r.applied, r.firstIndex, r.lastIndex].map(String),
      );
    }
    lines.push(...table(rows, '  '));
  }
  if (s.groups.length === 0) lines.push('no group status available');
  return lines.join('\n');
}

export async function memberCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, {
    learner: { type: 'boolean' },
    'peer-address': { type: 'string' },
    group: { type: 'string' },
  });
  const [sub, ...rest] = p.positionals;
  const g = p.global;
  const groupId = intOption(p.values, 'group', 0, 1);
  if (sub === 'list') {
    expectPositionals(p, 1, 1, 'tessera member list');
    const s = await withClient(g, async (c) =>
      summarize(await c.clusterStatus({ timeoutMs: Math.min(g.deadlineMs, 2000) })),
    );
    const groups = s.groups.map((x) => ({ groupId: x.groupId, members: x.members }));
    io.out(
      g.json
        ? json({ groups })
        : groups
            .map(
              (x) =>
                `group ${x.groupId}: ${x.members.map((m) => `${m.id} ${m.address}${m.voter ? '' : ' (learner)'}`).join(', ')}`,
            )
            .join('\n'),
    );
    return EXIT_OK;
  }
  if (sub === 'add') {
    if (rest.length !== 2)
      throw new UsageError('usage: tessera member add ID ADDRESS [--learner] [--peer-address HOST:PORT] [--group G]');
    const id = parseNodeId(rest[0]!);
    const address = rest[1]!;
    if (!/^[^:\s]+:\d{1,5}$/.test(address)) throw new UsageError(`ADDRESS must be HOST:PORT, got '${address}'`);
    const peerAddress = p.values['peer-address'] as string | undefined;
    if (peerAddress !== undefined && !/^[^:\s]+:\d{1,5}$/.test(peerAddress))
      throw new UsageError(`--peer-address must be HOST:PORT, got '${peerAddress}'`);
    const members = await withClient(g, (c) =>
      c.addNode(id, address, {
        learner: p.values.learner === true,
        ...(peerAddress !== undefined ? { peerAddress } : {}),
        groupId,
      }),
    );
    io.out(
      g.json
        ? json({ members })
        : `added node ${id} (${address}${peerAddress !== undefined ? `, peers at ${peerAddress}` : ''})${p.values.learner === true ? ' as a learner' : ''}; members: ${members.map((m) => m.id).join(', ')}`,
    );
    return EXIT_OK;
  }
  if (sub === 'remove') {
    if (rest.length !== 1) throw new UsageError('usage: tessera member remove ID [--group G]');
    const id = parseNodeId(rest[0]!);
    const members = await withClient(g, (c) => c.removeNode(id, { groupId }));
    io.out(g.json ? json({ members }) : `removed node ${id}; members: ${members.map((m) => m.id).join(', ')}`);
    return EXIT_OK;
  }
  throw new UsageError(
    'usage: tessera member list | member add ID ADDRESS [--learner] [--peer-address HOST:PORT] [--group G] | member remove ID [--group G]',
  );
}

export async function leaderCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, { group: { type: 'string' } });
  const [sub, target] = p.positionals;
  if (sub !== 'transfer' || target === undefined || p.positionals.length !== 2) {
    throw new UsageError('usage: tessera leader transfer ID [--group G]');
  }
  const to = parseNodeId(target);
  const g = p.global;
  const leader = await withClient(g, async (c) => {
    let groupId: number;
    if (p.values.group !== undefined) groupId = intOption(p.values, 'group', 0, 0);
    else {
      // The meta shard is never the implied one: a fresh cluster has it beside its one data shard.
      const s = summarize(await c.clusterStatus({ timeoutMs: Math.min(g.deadlineMs, 2000) }));
      const data = s.groups.filter((x) => x.kind === 'data');
      if (data.length !== 1)
        throw new UsageError(`the cluster has ${data.length} data shards; say which with --group G`);
      groupId = data[0]!.groupId;
    }
    return c.transferLeader(to, { groupId });
  });
  io.out(g.json ? json({ leader }) : `leader is now node ${leader}`);
  return EXIT_OK;
}

function parseNodeId(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n <= 0 || n > 0xffff_ffff)
    throw new UsageError(`node ID must be a positive integer, got '${text}'`);
  return n;
}
