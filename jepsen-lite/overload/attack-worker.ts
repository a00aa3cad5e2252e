/**
 * Runs one overload attack in a worker thread and posts its AttackReport: the abusers' own work
 * (encoding 100,000 puts, 1,000 sockets, 300 scan pages) must not stall the harness's event loop, where
 * the bystander workload, the RSS sampler and the /healthz probe measure the node.
 * Invariant: posts exactly one message ({ report } or { error }) and then ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { attacks } from './attacks';
import type { AttackTarget, OverloadAttackName, OverloadSizes } from './catalogue';
import { closeWire } from '../hostile/wire';

export interface AttackWorkerData {
  attack: OverloadAttackName;
  target: AttackTarget;
  sizes: OverloadSizes;
}

if (parentPort) {
  const port = parentPort;
  const d = workerData as AttackWorkerData;
  attacks[d.attack](d.target, d.sizes).then(
    (report) => {
      closeWire();
      port.postMessage({ report });
    },
    (e: unknown) => {
      closeWire();
      port.postMessage({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    },
  );
}
