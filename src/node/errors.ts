/**
 * The node layer's typed errors for refused proposals and reads. NOT_LEADER carries the leader's id
 * and address (the SDK's hint); no known leader is UNAVAILABLE (retryable).
 */
import { NO_NODE, TesseraError, type GroupId, type NodeId } from '../base';
import type { DropReason } from '../raft';

export function notLeaderError(
  self: NodeId,
  groupId: GroupId,
  leader: NodeId,
  leaderAddress: string | null,
): TesseraError {
  if (leader === NO_NODE || leader === self)
    return new TesseraError('UNAVAILABLE', `group ${groupId} has no leader right now; retry`);
  return new TesseraError(
    'NOT_LEADER',
    `node ${self} is not the leader of group ${groupId}; the leader is node ${leader}`,
    {
      leaderId: leader,
      groupId,
      ...(leaderAddress ? { leaderAddress } : {}),
    },
  );
}

export function dropError(
  self: NodeId,
  groupId: GroupId,
  reason: DropReason,
  leader: NodeId,
  leaderAddress: string | null,
): TesseraError {
  switch (reason) {
    case 'noLeader':
    case 'notLeader':
      return notLeaderError(self, groupId, leader, leaderAddress);
    case 'transferInProgress':
      return new TesseraError('UNAVAILABLE', `leadership of group ${groupId} is being transferred; retry`);
    case 'configChangePending':
      return new TesseraError('UNAVAILABLE', `a membership change of group ${groupId} is still in progress; retry`);
    case 'tooLarge':
      return new TesseraError(
        'RESOURCE_EXHAUSTED',
        `group ${groupId} has too much uncommitted data or too many pending reads; retry later`,
      );
    case 'unknownNode':
    case 'invalidChange':
      return new TesseraError('INVALID_ARGUMENT', `membership change rejected by group ${groupId}: ${reason}`);
  }
}

/** A pending write whose leader lost leadership: it may or may not apply (retry with the same session). */
export function leadershipLostError(
  self: NodeId,
  groupId: GroupId,
  leader: NodeId,
  leaderAddress: string | null,
): TesseraError {
  return new TesseraError(
    'UNAVAILABLE',
    `node ${self} lost leadership of group ${groupId}; the write may or may not apply, retry it with the same session`,
    {
      leaderId: leader,
      groupId,
      ...(leaderAddress ? { leaderAddress } : {}),
    },
  );
}
