/** The attack function of each overload pattern (one file per pattern). */
import type { AttackReport, AttackTarget, OverloadAttackName, OverloadSizes } from './catalogue';
import { idleConnections } from './idle-connections';
import { metricsFlood } from './metrics-flood';
import { nonReader } from './non-reader';
import { pipelineFlood } from './pipeline-flood';
import { scanStorm } from './scan-storm';

export const attacks: Record<OverloadAttackName, (t: AttackTarget, s: OverloadSizes) => Promise<AttackReport>> = {
  'non-reader': nonReader,
  'scan-storm': scanStorm,
  'metrics-flood': metricsFlood,
  'pipeline-flood': pipelineFlood,
  'idle-connections': idleConnections,
};
