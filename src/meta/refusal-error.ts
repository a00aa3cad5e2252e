/**
 * The typed error a proposer answers for a refused meta command (TesseraError, `details.rule` = the
 * refusal reason). Epoch mismatches are WRONG_SHARD with the current epoch (retryable: re-read, re-plan);
 * unknown nodes and shards NOT_FOUND; not bootstrapped yet UNAVAILABLE (retryable); the rest
 * INVALID_ARGUMENT (an id or cluster mismatch is the joining node's mistake: it must not retry as is).
 */
import { TesseraError } from '../base';
import type { ErrorCode } from '../base';
import type { MetaResult, RefusalReason } from './types';

const CODES: Readonly<Record<RefusalReason, ErrorCode>> = {
  'not-bootstrapped': 'UNAVAILABLE',
  'already-bootstrapped': 'INVALID_ARGUMENT',
  'cluster-mismatch': 'INVALID_ARGUMENT',
  'node-id-taken': 'INVALID_ARGUMENT',
  'address-taken': 'INVALID_ARGUMENT',
  'unknown-node': 'NOT_FOUND',
  'node-removed': 'INVALID_ARGUMENT',
  'illegal-transition': 'INVALID_ARGUMENT',
  'unknown-shard': 'NOT_FOUND',
  'epoch-mismatch': 'WRONG_SHARD',
  'shard-id-not-reserved': 'INVALID_ARGUMENT',
  'bad-split': 'INVALID_ARGUMENT',
  'bad-replica-change': 'INVALID_ARGUMENT',
  limit: 'RESOURCE_EXHAUSTED',
};

export function refusalError(r: Extract<MetaResult, { type: 'refused' }>): TesseraError {
  const details: Record<string, unknown> = { rule: r.reason };
  if (r.current !== undefined) {
    details.epoch = r.current.epoch;
    details.shard = r.current.id;
  }
  return new TesseraError(CODES[r.reason], r.message, details);
}
