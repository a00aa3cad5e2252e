/**
 * Node commands of the tessera CLI: `node list [--json]`, the node registry of the meta shard (any node's
 * replica of it) with each node's replicas and leaderships. JSON:
 * {"nodes":[{"id":N,"address":"...","state":"up|down|draining|removed","replicas":N,"leaders":N}]}.
 */
import type { NodeInfo } from '../../src/client';
import { EXIT_OK, UsageError, expectPositionals, json, parse, withClient } from './args';
import type { Io } from './args';
import { table } from './table';

export const nodeHelp = `Node commands:
  node list [--json]                the registered nodes: address, state, replicas and leaderships`;

export async function nodeCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, {});
  if (p.positionals[0] !== 'list') throw new UsageError('usage: tessera node list [--json]');
  expectPositionals(p, 1, 1, 'tessera node list [--json]');
  const nodes = await withClient(p.global, (c) => c.listNodes({ deadlineMs: p.global.deadlineMs }));
  io.out(p.global.json ? json(nodeListJson(nodes)) : renderNodeTable(nodes));
  return EXIT_OK;
}

/** The JSON of `node list --json` (fields in the documented order). */
export function nodeListJson(nodes: readonly NodeInfo[]) {
  return {
    nodes: nodes.map((n) => ({
      id: n.id,
      address: n.address,
      state: n.state,
      replicas: n.replicas,
      leaders: n.leaders,
    })),
  };
}

export function renderNodeTable(nodes: readonly NodeInfo[]): string {
  const rows = [['ID', 'ADDRESS', 'STATE', 'REPLICAS', 'LEADERS']];
  for (const n of nodes) rows.push([n.id, n.address, n.state, n.replicas, n.leaders].map(String));
  return table(rows, '').join('\n');
}
