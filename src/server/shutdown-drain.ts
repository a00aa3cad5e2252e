/**
 * The first step of a graceful stop (SIGTERM, cmd/start.ts): the node stops taking leaderships and moves the
 * ones it holds to caught-up voters (node/leader-drain.ts) within a bounded budget (--shutdown-drain-ms), so
 * that its groups change leader by handover rather than by an election timeout after it is gone.
 * While and after it runs the node keeps serving: a request for a group it no longer leads is answered
 * NOT_LEADER with the new leader (the SDK follows the hint); close() then answers new calls UNAVAILABLE and
 * shuts the listeners, which the SDK retries on another node.
 * Irreversible: the placement driver on this node stops and the transport drops TimeoutNow from then on
 * (the node only stops after this).
 */
import { drainLeaders, refusesLeadership, type LeaderDrainHost, type LeaderDrainResult } from '../node';
import type { Logger } from '../obs';
import type { Transport } from '../transport';

export interface ShutdownDrainParts {
  host: LeaderDrainHost;
  transport: Pick<Transport, 'setInboundFilter'>;
  balancer: { stop(): void };
  logger: Logger;
  electionMs: number;
}

/** TesseraNode.drainLeaders of a running node (tessera-node.ts). */
export function leaderDrainOf(
  host: LeaderDrainHost,
  transport: ShutdownDrainParts['transport'],
  balancer: { stop(): void },
  logger: Logger,
  electionMs: number,
): (budgetMs: number) => Promise<LeaderDrainResult> {
  return (budgetMs) => drainBeforeStop({ host, transport, balancer, logger, electionMs }, budgetMs);
}

export async function drainBeforeStop(p: ShutdownDrainParts, budgetMs: number): Promise<LeaderDrainResult> {
  p.balancer.stop();
  p.transport.setInboundFilter(refusesLeadership);
  p.logger.info({ budgetMs }, 'leader drain: moving leaderships off this node before it stops');
  return drainLeaders(p.host, { budgetMs, electionMs: p.electionMs, logger: p.logger });
}
