/**
 * Validation of a message from a peer before it touches any state (DESIGN.md 9b). A message that breaks
 * an invariant the core relies on (index gaps, decreasing terms, acks beyond the leader's log, terms or
 * indexes past limits.ts, a malformed snapshot configuration) is refused as invalidMessage and never
 * reaches an assertion: assertions are for our own invariants, a peer's bytes are input.
 *
 * Every rule holds for all traffic a correct peer sends, including duplicated, reordered and stale
 * messages: a rule that depends on our own state (acks beyond our last index, read rounds we never
 * opened) applies only to a response a leader is about to act on, i.e. in its own current term, where
 * the leader's log never shrank since it sent the request. Pure: reads state, never changes it.
 */
import { isNodeId } from '../base';
import { INDEX_MAX, TERM_MAX, APPEND_ENTRIES_MAX } from './limits';
import { configProblem } from './membership';
import type { RaftState } from './raft-state';
import type { Entry, MembershipChange, Message, Snapshot } from './types';

const CHANGE_TYPES: ReadonlySet<string> = new Set(['addVoter', 'addLearner', 'removeNode']);

function isTerm(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= TERM_MAX;
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= INDEX_MAX;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Why `m` must be dropped, or null when it is valid. Cheap on the valid path (no allocation). */
export function messageProblem(s: RaftState, m: Message): string | null {
  if (typeof m !== 'object' || m === null) return 'not a message';
  if (!isNodeId(m.from)) return `sender ${String(m.from)} is not a node id`;
  if (m.to !== s.id) return `addressed to ${String(m.to)}, not to node ${s.id}`;
  if (m.from === s.id) return 'sent by this node to itself';
  if (!isTerm(m.term)) return `term ${String(m.term)} is not an integer in [0, ${TERM_MAX}]`;
  switch (m.type) {
    case 'preVote':
    case 'vote':
      if (!isIndex(m.lastLogIndex)) return `${m.type}: last log index ${String(m.lastLogIndex)} out of range`;
      // A candidate's log holds no entry of a term above its own (the campaign's term is higher still).
      if (!isTerm(m.lastLogTerm) || m.lastLogTerm > m.term)
        return `${m.type}: last log term ${String(m.lastLogTerm)} out of range`;
      if (m.type === 'vote' && typeof m.transfer !== 'boolean') return 'vote: transfer is not a boolean';
      return null;
    case 'preVoteResp':
    case 'voteResp':
      return typeof m.reject === 'boolean' ? null : `${m.type}: reject is not a boolean`;
    case 'append':
      return appendProblem(m);
    case 'appendResp':
      return appendRespProblem(s, m);
    case 'heartbeat':
      if (!isIndex(m.commit)) return `heartbeat: commit ${String(m.commit)} out of range`;
      return isCount(m.context) ? null : `heartbeat: context ${String(m.context)} is not a count`;
    case 'heartbeatResp':
      if (!isCount(m.context)) return `heartbeatResp: context ${String(m.context)} is not a count`;
      // Read rounds are numbered by this leader; nobody can acknowledge one it has not opened.
      if (s.role === 'leader' && m.term === s.term && m.context > s.readOnly.lastRound) {
        return `heartbeatResp: read round ${m.context} beyond the last one opened (${s.readOnly.lastRound})`;
      }
      return null;
    case 'snapshot':
      return snapshotProblem(m.term, m.snapshot);
    case 'timeoutNow':
      return null;
    default:
      return `unknown message type ${String((m as { type: unknown }).type)}`;
  }
}

/**
 * The entries must continue the log at prevLogIndex + 1 without gaps, with terms that never decrease,
 * start at prevLogTerm or above and never exceed the leader's term (a leader's log holds no later term).
 * The commit index is only bounded: a leader sends its own, which may be ahead of what this follower
 * holds, and the follower clamps it to what the message proves (receive.ts).
 */
function appendProblem(m: Message & { type: 'append' }): string | null {
  if (!isIndex(m.prevLogIndex)) return `append: prev log index ${String(m.prevLogIndex)} out of range`;
  if (!isTerm(m.prevLogTerm) || m.prevLogTerm > m.term)
    return `append: prev log term ${String(m.prevLogTerm)} out of range`;
  if (!isIndex(m.commit)) return `append: commit ${String(m.commit)} out of range`;
  const entries = m.entries;
  if (!Array.isArray(entries)) return 'append: entries is not a list';
  const n = entries.length;
  if (n > APPEND_ENTRIES_MAX) return `append: ${n} entries, over the limit of ${APPEND_ENTRIES_MAX}`;
  if (m.prevLogIndex + n > INDEX_MAX) return `append: entries beyond index ${INDEX_MAX}`;
  let prevTerm = m.prevLogTerm;
  for (let i = 0; i < n; i++) {
    const e = entries[i] as Entry;
    if (typeof e !== 'object' || e === null) return `append: entry ${i} is not an entry`;
    const index = m.prevLogIndex + 1 + i;
    if (e.index !== index)
      return `append: entry ${i} has index ${String(e.index)}, expected ${index} (gap or disorder)`;
    if (!isTerm(e.term) || e.term < 1 || e.term < prevTerm || e.term > m.term) {
      return `append: entry ${index} has term ${String(e.term)}, outside [${Math.max(prevTerm, 1)}, ${m.term}]`;
    }
    prevTerm = e.term;
    const problem = entryProblem(e);
    if (problem !== null) return `append: entry ${index}: ${problem}`;
  }
  return null;
}

function entryProblem(e: Entry): string | null {
  switch (e.kind) {
    case 'normal':
      return e.data instanceof Uint8Array ? null : 'data is not bytes';
    case 'empty':
      return null;
    case 'config':
      return changeProblem(e.change) ?? (e.config === undefined ? null : configProblem(e.config));
    default:
      return `unknown entry kind ${String((e as { kind: unknown }).kind)}`;
  }
}

function changeProblem(c: MembershipChange): string | null {
  if (typeof c !== 'object' || c === null) return 'membership change is not an object';
  if (!CHANGE_TYPES.has(c.type)) return `unknown membership change type ${String(c.type)}`;
  if (!isNodeId(c.node)) return `membership change of ${String(c.node)}, not a node id`;
  if (c.context !== undefined && !(c.context instanceof Uint8Array)) return 'membership change context is not bytes';
  return null;
}

/**
 * An accepted ack names the highest index that now matches the leader's log; a rejection names the
 * prevLogIndex the leader sent and a hint at or below it. Neither can exceed the last index of the leader
 * that sent the request: within its term a leader's log only grows. The follower's hint term is a term
 * of its log, never above the follower's (the response's) term.
 */
function appendRespProblem(s: RaftState, m: Message & { type: 'appendResp' }): string | null {
  if (typeof m.reject !== 'boolean') return 'appendResp: reject is not a boolean';
  if (!isIndex(m.index)) return `appendResp: index ${String(m.index)} out of range`;
  if (!isIndex(m.rejectHint)) return `appendResp: reject hint ${String(m.rejectHint)} out of range`;
  if (!isTerm(m.hintTerm) || m.hintTerm > m.term) return `appendResp: hint term ${String(m.hintTerm)} out of range`;
  if (s.role === 'leader' && m.term === s.term) {
    const last = s.log.lastIndex();
    if (m.index > last) return `appendResp: index ${m.index} beyond the leader's last index ${last}`;
    if (m.reject && m.rejectHint > last)
      return `appendResp: reject hint ${m.rejectHint} beyond the leader's last index ${last}`;
  }
  return null;
}

/** A snapshot's last entry has an index >= 1 and a term in [1, message term]; its configuration is well formed. */
function snapshotProblem(term: number, snap: Snapshot): string | null {
  if (typeof snap !== 'object' || snap === null || typeof snap.meta !== 'object' || snap.meta === null)
    return 'snapshot: no meta';
  const meta = snap.meta;
  if (!isIndex(meta.index) || meta.index < 1) return `snapshot: index ${String(meta.index)} out of range`;
  if (!isTerm(meta.term) || meta.term < 1 || meta.term > term)
    return `snapshot: term ${String(meta.term)} outside [1, ${term}]`;
  if (!(snap.data instanceof Uint8Array)) return 'snapshot: data is not bytes';
  const problem = configProblem(meta.config);
  return problem === null ? null : `snapshot: ${problem}`;
}
