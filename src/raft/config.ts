/**
 * RaftConfig defaults and validation. Defaults follow etcd (heartbeat 1 tick, election 10 ticks).
 */
import { TesseraError, isNodeId } from '../base';
import type { NodeId } from '../base';
import type { RaftConfig } from './types';

export const PENDING_READS_MAX_DEFAULT = 4096;

export function defaultRaftConfig(id: NodeId): RaftConfig {
  return {
    id,
    electionTicks: 10,
    heartbeatTicks: 1,
    preVote: true,
    checkQuorum: true,
    inflightMessagesMax: 256,
    appendBytesMax: 1024 * 1024,
    uncommittedBytesMax: 64 * 1024 * 1024,
    pendingReadsMax: PENDING_READS_MAX_DEFAULT,
    snapshotTimeoutTicks: 200,
  };
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0)
    throw new TesseraError('CONFIG', `raft: ${name} must be a positive integer, got ${v}`);
}

/** Throws TesseraError(CONFIG) on a bad configuration. */
export function validateRaftConfig(c: RaftConfig): void {
  if (!isNodeId(c.id)) throw new TesseraError('CONFIG', `raft: id must be a positive integer node id, got ${c.id}`);
  positiveInt('electionTicks', c.electionTicks);
  positiveInt('heartbeatTicks', c.heartbeatTicks);
  if (c.heartbeatTicks >= c.electionTicks) {
    throw new TesseraError(
      'CONFIG',
      `raft: heartbeatTicks (${c.heartbeatTicks}) must be below electionTicks (${c.electionTicks})`,
    );
  }
  positiveInt('inflightMessagesMax', c.inflightMessagesMax);
  positiveInt('appendBytesMax', c.appendBytesMax);
  if (c.inflightBytesMax !== undefined && c.inflightBytesMax !== 0) positiveInt('inflightBytesMax', c.inflightBytesMax);
  positiveInt('uncommittedBytesMax', c.uncommittedBytesMax);
  if (c.pendingReadsMax !== undefined) positiveInt('pendingReadsMax', c.pendingReadsMax);
  if (c.snapshotTimeoutTicks !== undefined) positiveInt('snapshotTimeoutTicks', c.snapshotTimeoutTicks);
}
