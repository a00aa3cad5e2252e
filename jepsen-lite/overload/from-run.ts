/**
 * The overload nemesis as a run (run/run.ts) sets it up: hooks onto the run's Cluster (leader lookup,
 * node pids, the nodes' real client and HTTP ports) and the sizes and budget from the options.
 */
import type { Cluster } from '../cluster/cluster';
import type { NemesisLog } from '../nemesis/nemesis-log';
import { host, httpPort } from '../net/ports';
import type { RunOptions } from '../run/options';
import { overloadSizes } from './catalogue';
import { OverloadNemesis, budgetFromNodeArgs } from './overload-nemesis';

export function overloadForRun(
  cluster: Cluster,
  o: RunOptions,
  nemesisLog: NemesisLog,
  log: (line: string) => void,
  nowMs: () => number,
): OverloadNemesis {
  const sizes = overloadSizes[o.overloadSize];
  const plan = { nodes: o.nodes, basePort: o.basePort };
  return new OverloadNemesis(
    o.overloadAttacks,
    sizes,
    budgetFromNodeArgs(o.nodeArgs),
    {
      leader: async () => {
        const l = await cluster.leader();
        return l ? { leader: l.leader, term: l.term } : null;
      },
      pidOf: (id) => cluster.node(id).pid,
      // The attacker dials the node's real ports: it stands outside the test network, like the operator.
      target: (id) => ({ grpcAddress: cluster.network.nodeAddress(id), httpHost: host, httpPort: httpPort(plan, id) }),
      endpoints: cluster.ids.map((id) => cluster.network.nodeAddress(id)),
      nowMs,
    },
    nemesisLog,
    log,
  );
}
