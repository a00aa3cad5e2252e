/**
 * Node commands of the tessera CLI:
 * - `node list [--json]`: the node registry of the meta shard with each node's replicas and leaderships.
 *   JSON: {"nodes":[{"id":N,"address":"...","state":"up|down|draining|removed","replicas":N,"leaders":N}]}.
 * - `node drain ID [--no-wait] [--wait-ms N]`: marks the node draining (Admin.SetNodeState on the meta
 *   leader); the placement driver then moves its replicas and leaderships off. Unless --no-wait, waits
 *   until no group reports the node as a member (node-holdings.ts), printing the count as it falls.
 * - `node drain-leaders ID [--wait-ms N]`: moves every leadership off the node, keeping its replicas, before
 *   a restart or an upgrade (drain-leaders.ts); waits until it leads nothing.
 * - `node remove ID`: marks the node removed; refused (exit 1) while any shard still has a replica on it.
 */
import type { Client, NodeInfo } from '../../src/client';
import { EXIT_OK, EXIT_UNAVAILABLE, UsageError, expectPositionals, intOption, json, parse, withClient } from './args';
import type { GlobalOptions, Io } from './args';
import { drainLeadersCommand } from './drain-leaders';
import { nodeHoldings, type Holdings } from './node-holdings';
import { table } from './table';

export const nodeHelp = `Node commands:
  node list [--json]                the registered nodes: address, state, replicas and leaderships
  node drain ID [--no-wait] [--wait-ms N]
                                    mark node ID draining: the placement driver moves every replica and
                                    leadership off it; waits (at most --wait-ms, default 600000) until it
                                    holds none, printing what is left, unless --no-wait
  node drain-leaders ID [--wait-ms N]
                                    move every leadership off node ID (it keeps its replicas), e.g.
                                    before restarting or upgrading it; waits (at most --wait-ms, default
                                    30000) until it leads nothing (exit 3 if it still leads some then)
  node remove ID                    remove node ID from the cluster's registry (its id is never reused);
                                    refused while it still holds replicas (drain it first)`;

const NODE_USAGE =
  'usage: tessera node list [--json] | node drain ID [--no-wait] [--wait-ms N] | node drain-leaders ID [--wait-ms N] | node remove ID';

/** How often `node drain` looks at what the node still holds. */
const DRAIN_POLL_MS = 500;

export async function nodeCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, { 'no-wait': { type: 'boolean' }, 'wait-ms': { type: 'string' } });
  const sub = p.positionals[0];
  if (sub === 'list') {
    expectPositionals(p, 1, 1, 'tessera node list [--json]');
    const nodes = await withClient(p.global, (c) => c.listNodes({ deadlineMs: p.global.deadlineMs }));
    io.out(p.global.json ? json(nodeListJson(nodes)) : renderNodeTable(nodes));
    return EXIT_OK;
  }
  if (sub === 'drain') {
    const [, idText] = expectPositionals(p, 2, 2, 'tessera node drain ID [--no-wait] [--wait-ms N]');
    const id = parseNodeIdArg(idText!);
    const waitMs = intOption(p.values, 'wait-ms', 600_000, 1);
    return withClient(p.global, (c) => drain(c, p.global, io, id, p.values['no-wait'] === true, waitMs));
  }
  if (sub === 'drain-leaders') {
    const [, idText] = expectPositionals(p, 2, 2, 'tessera node drain-leaders ID [--wait-ms N]');
    const id = parseNodeIdArg(idText!);
    if (p.values['no-wait'] === true) throw new UsageError('node drain-leaders has no --no-wait');
    const waitMs = intOption(p.values, 'wait-ms', 30_000, 1);
    return withClient(p.global, (c) => drainLeadersCommand(c, p.global, io, id, waitMs));
  }
  if (sub === 'remove') {
    const [, idText] = expectPositionals(p, 2, 2, 'tessera node remove ID');
    const id = parseNodeIdArg(idText!);
    await withClient(p.global, (c) => c.setNodeState(id, 'removed', { deadlineMs: p.global.deadlineMs }));
    io.out(p.global.json ? json({ id, state: 'removed' }) : `removed node ${id} from the cluster`);
    return EXIT_OK;
  }
  throw new UsageError(NODE_USAGE);
}

async function drain(c: Client, g: GlobalOptions, io: Io, id: number, noWait: boolean, waitMs: number) {
  const t0 = Date.now();
  await c.setNodeState(id, 'draining', { deadlineMs: g.deadlineMs });
  if (noWait) {
    io.out(g.json ? json({ id, state: 'draining', waited: false }) : `node ${id} is draining (not waiting)`);
    return EXIT_OK;
  }
  const deadline = t0 + waitMs;
  let last: Holdings | null = null;
  for (;;) {
    const now = await nodeHoldings(c, g, id);
    if (now.replicas === 0 && now.leaders === 0) break;
    if (!g.json && (last === null || now.replicas !== last.replicas || now.leaders !== last.leaders))
      io.out(`node ${id}: ${now.replicas} replica(s), ${now.leaders} leadership(s) left`);
    last = now;
    if (Date.now() >= deadline) {
      io.err(
        `node ${id} still holds ${now.replicas} replica(s) and ${now.leaders} leadership(s) after ${waitMs} ms; it stays draining (run node drain ${id} again to keep waiting)`,
      );
      return EXIT_UNAVAILABLE;
    }
    await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
  }
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  io.out(
    g.json
      ? json({ id, state: 'draining', waited: true, replicas: 0, leaders: 0 })
      : `drained node ${id}: it holds no replica (${seconds} s); remove it with tessera node remove ${id}`,
  );
  return EXIT_OK;
}

function parseNodeIdArg(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n <= 0 || n > 0xffff_ffff)
    throw new UsageError(`node ID must be a positive integer, got '${text}'`);
  return n;
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
