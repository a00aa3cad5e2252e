/**
 * Port plan of one jepsen-lite run: every address is 127.0.0.1 and derived from one base port, so a run
 * (or a test file) owns a contiguous block of `portsPerRun(nodes)` ports starting at `basePort`.
 *
 *   node j (1..N) real gRPC listen   base + j
 *   node j HTTP (/metrics, /healthz)  base + 10 + j
 *   client proxy -> node j            base + 20 + j
 *   peer proxy i -> j                 base + 30 + (i-1)*N + (j-1)
 */
export const host = '127.0.0.1';
export const nodesMax = 9;

export interface PortPlan {
  nodes: number;
  basePort: number;
}

export function portsPerRun(nodes: number): number {
  return 30 + nodes * nodes;
}

function check(plan: PortPlan, id: number): void {
  if (!Number.isInteger(id) || id < 1 || id > plan.nodes) throw new RangeError(`node id ${id} not in 1..${plan.nodes}`);
}

export function nodePort(plan: PortPlan, id: number): number {
  check(plan, id);
  return plan.basePort + id;
}

export function httpPort(plan: PortPlan, id: number): number {
  check(plan, id);
  return plan.basePort + 10 + id;
}

export function clientProxyPort(plan: PortPlan, id: number): number {
  check(plan, id);
  return plan.basePort + 20 + id;
}

export function peerProxyPort(plan: PortPlan, from: number, to: number): number {
  check(plan, from);
  check(plan, to);
  if (from === to) throw new RangeError(`no peer link from node ${from} to itself`);
  return plan.basePort + 30 + (from - 1) * plan.nodes + (to - 1);
}

export function validatePlan(plan: PortPlan): void {
  if (!Number.isInteger(plan.nodes) || plan.nodes < 1 || plan.nodes > nodesMax) {
    throw new RangeError(`nodes must be 1..${nodesMax}, got ${plan.nodes}`);
  }
  const last = plan.basePort + portsPerRun(plan.nodes);
  if (!Number.isInteger(plan.basePort) || plan.basePort < 1024 || last > 65535) {
    throw new RangeError(`base port ${plan.basePort} leaves no room for ${portsPerRun(plan.nodes)} ports`);
  }
}
