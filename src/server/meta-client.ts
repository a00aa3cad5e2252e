/**
 * Applies one meta command (registerNode, setNodeState) on the meta shard's leader from the server layer:
 * locally when this node leads the meta group (NodeHost.onForwardMeta with itself as the sender, which
 * proposes it), otherwise forwarded over the peer RPC ForwardMeta (transport/meta-forward.ts).
 *
 * Invariants:
 * - the first target is the meta leader this node knows; without one (a joining node, a node that hosts no
 *   meta replica) the candidates are tried in turn; a NOT_LEADER hint is followed at once; a joining node
 *   hinted at its own id learns that another node holds it (node-id-taken);
 * - bounded: at most ATTEMPTS_MAX attempts and never past the deadline; between attempts without a hint it
 *   waits retryMs;
 * - a refusal of the state machine is a typed error (meta refusalError: node-id-taken and the like are
 *   INVALID_ARGUMENT with details.rule), never retried; 'not-bootstrapped' is UNAVAILABLE and retried.
 */
import { NO_NODE, TesseraError, isTesseraError, type NodeId } from '../base';
import { encodeMetaCommand, refusalError, type MetaCommand, type MetaResult } from '../meta';
import { decodeForwardedMetaResult } from '../node';

export interface MetaClientDeps {
  self: NodeId;
  /** The meta group's leader as this node knows it; NO_NODE when unknown. */
  knownLeader(): NodeId;
  /** Nodes to ask when no leader is known (any of them forwards the caller to the leader). */
  candidates(): NodeId[];
  /**
   * Applies the encoded command here, as the meta leader (NodeHost.onForwardMeta from self); null on a
   * node that cannot lead the meta shard (a joining node): a hint naming its own id then means another node
   * holds that id (refused as node-id-taken).
   */
  local: ((command: Buffer, timeoutMs: number) => Promise<Buffer>) | null;
  /** Sends the encoded command to peer `to` (Transport.forwardMeta). */
  forward(to: NodeId, command: Buffer, timeoutMs: number): Promise<Buffer>;
  /** Wait between attempts that had no leader hint. */
  retryMs: number;
}

/** Attempts of one apply at most (hints and retries together). */
const ATTEMPTS_MAX = 64;

/** Applies `command` on the meta leader; resolves with its (forwarded) result, rejects with a typed error. */
export async function applyMetaCommand(
  d: MetaClientDeps,
  command: MetaCommand,
  timeoutMs: number,
): Promise<MetaResult> {
  const deadline = Date.now() + timeoutMs;
  const data = encodeMetaCommand(command);
  let rotation = 0;
  let hinted: NodeId = NO_NODE;
  /** The known leader failed without a hint: the next attempt asks a candidate instead. */
  let skipKnown = false;
  let last: unknown = null;
  let attempt = 0;
  for (; attempt < ATTEMPTS_MAX; attempt++) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    let to = hinted !== NO_NODE ? hinted : skipKnown ? NO_NODE : d.knownLeader();
    skipKnown = false;
    if (to === NO_NODE) {
      const others = d.candidates().filter((id) => id !== d.self);
      if (others.length === 0) throw new TesseraError('UNAVAILABLE', 'no node to ask for the meta shard');
      to = others[rotation++ % others.length] as NodeId;
    }
    hinted = NO_NODE;
    if (to === d.self && d.local === null)
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `node ${d.self} is named as the meta shard's leader: another node holds id ${d.self}`,
        {
          rule: 'node-id-taken',
        },
      );
    try {
      const result = decodeForwardedMetaResult(
        to === d.self && d.local !== null ? await d.local(data, left) : await d.forward(to, data, left),
      );
      if (result.type !== 'refused') return result;
      if (result.reason === 'not-bootstrapped') throw new TesseraError('UNAVAILABLE', result.message);
      throw refusalError(result);
    } catch (e) {
      if (!isTesseraError(e) || !e.retryable) throw e;
      last = e;
      const hint = e.code === 'NOT_LEADER' ? Number(e.details.leaderId ?? 0) : 0;
      if (hint > 0 && hint !== to) {
        hinted = hint as NodeId;
        continue;
      }
      // No usable hint: ask a candidate next, after a pause (the known leader may be stale or gone).
      skipKnown = true;
      await new Promise((r) => setTimeout(r, Math.max(1, Math.min(d.retryMs, deadline - Date.now()))));
    }
  }
  const why = last instanceof Error ? `: ${last.message}` : '';
  throw new TesseraError(
    'UNAVAILABLE',
    `the meta shard did not answer (${attempt} attempts in ${Date.now() - (deadline - timeoutMs)} ms)${why}; retry`,
  );
}
