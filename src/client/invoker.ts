/**
 * The retry loop every SDK call goes through: pick an endpoint, send one attempt with a timeout shorter
 * than the call's deadline, and on a retryable failure go elsewhere or wait a jittered backoff, until the
 * call's deadline.
 * - NOT_LEADER with a usable hint: redirect to the hinted leader at once and cache it. A hint is usable
 *   only when it names an endpoint or member the client learned from the cluster (router.ts); a hint
 *   naming an unknown address triggers at most one members refresh (Status of a configured endpoint)
 *   per call, and is ignored if the address is still unknown: the call tries its known endpoints.
 *   A hint naming an endpoint currently marked unhealthy (a stale hint right after the leader died) is
 *   followed at most once per call; otherwise the call backs off and tries the next endpoint, so the
 *   survivors are probed promptly while they elect a new leader.
 * - Connection failure: mark the endpoint unhealthy, forget it as leader, try the next healthy endpoint.
 * - Attempt timeout (attemptTimeoutMs without any answer from the node to any call, see Endpoint.unary):
 *   the node is dead or paused: mark it unhealthy and move on at once. A node that keeps answering other
 *   calls is only busy: the attempt waits for it up to the call's deadline, so a loaded server never
 *   receives duplicate requests from timeouts.
 * - Non-retryable errors (INVALID_ARGUMENT, ...) are thrown at once.
 * The request object is sent verbatim by every attempt, so a write's session (clientId, seq) is reused.
 * Thrown errors carry details.indeterminate: true when some attempt may have been applied.
 */
import { TesseraError } from '../base';
import { backoffDelayMs, sleep } from './backoff';
import type { BackoffPolicy } from './backoff';
import type { Endpoint, ServiceName } from './endpoint';
import type { AttemptFailure } from './errors';
import type { Router } from './router';
import type { ShardRoutes, WireHeader } from './shard-routes';

export type Route = 'leader' | 'any';

/** Per-call routing and timing choices beyond the route. */
export interface CallOptions {
  /** The key the request is about: a leader-routed call goes to the leader of the shard owning it. */
  key?: Buffer;
  /**
   * No "sign of life" timeout: each attempt waits for its answer until the call's deadline (an admin call
   * that takes long by design, e.g. SplitShard, must not be resent because the node is quiet meanwhile).
   */
  patient?: boolean;
}

export interface InvokerSettings {
  deadlineMs: number;
  attemptTimeoutMs: number;
  unhealthyMs: number;
  backoff: BackoffPolicy;
  random01: () => number;
}

/** A connection failure that certainly sent nothing (so it cannot have been applied). */
const NEVER_SENT_RE = /No connection established|ECONNREFUSED|failed to connect|Name resolution failed/i;

/** Asks a configured endpoint for Status and learns the members from it (one refresh, bounded by timeoutMs). */
export type MembersRefresh = (timeoutMs: number) => Promise<void>;

/** What to do after a failed attempt: try again at once, or after a backoff. */
type Step = 'retry' | 'backoff';

/** WRONG_SHARD redirects followed at once per call (more wait a backoff first: the map is moving). */
const SHARD_HOPS_MAX = 8;

/** One call's progress through its attempts. */
interface CallState {
  readonly method: string;
  readonly route: Route;
  readonly key: Buffer | null;
  readonly deadline: number;
  /** Where the next attempt goes when already chosen (a leader hint, or a busy node to retry). */
  next: Endpoint | null;
  last: Endpoint | null;
  attempts: number;
  hops: number;
  shardHops: number;
  unhealthyHintsFollowed: number;
  membersRefreshed: boolean;
  maybeApplied: boolean;
  everReached: boolean;
  lastFailure: AttemptFailure | null;
}

export class Invoker {
  private closed = false;

  constructor(
    private readonly router: Router,
    private readonly settings: InvokerSettings,
    private readonly refreshMembers: MembersRefresh | null = null,
    /** Routing by shard; null: every leader-routed call goes to the cluster-wide leader. */
    private readonly shards: ShardRoutes | null = null,
  ) {}

  close(): void {
    this.closed = true;
  }

  async call<T>(
    service: ServiceName,
    method: string,
    request: unknown,
    route: Route,
    deadlineMs?: number,
    options: CallOptions = {},
  ): Promise<T> {
    const s = this.settings;
    const budgetMs = deadlineMs ?? s.deadlineMs;
    const st: CallState = {
      method,
      route,
      key: options.key ?? null,
      deadline: Date.now() + budgetMs,
      next: null,
      last: null,
      attempts: 0,
      hops: 0,
      shardHops: 0,
      unhealthyHintsFollowed: 0,
      membersRefreshed: false,
      maybeApplied: false,
      everReached: false,
      lastFailure: null,
    };
    if (st.key !== null && route === 'leader' && this.shards !== null)
      await this.shards.ensure(st.key, Math.min(budgetMs / 2, s.attemptTimeoutMs));
    let backoffs = 0;
    for (;;) {
      if (this.closed)
        throw new TesseraError('UNAVAILABLE', `${method}: client is closed`, { indeterminate: st.maybeApplied });
      const now = Date.now();
      const remaining = st.deadline - now;
      if (remaining <= 0) throw giveUp(method, budgetMs, st);
      const ep: Endpoint = st.next ?? this.pick(st, now);
      st.next = null;
      st.attempts++;
      const softMs = options.patient === true ? remaining : Math.min(remaining, s.attemptTimeoutMs);
      const out = await ep.unary<T>(service, method, request, softMs, remaining);
      const t = Date.now();
      if (out.ok) {
        ep.markReplied(t);
        if (route === 'leader') this.router.setLeader(ep);
        if (route === 'leader' && st.key !== null)
          this.shards?.noteLeaderReply(st.key, ep, (out.value as { header?: WireHeader } | null)?.header);
        return out.value;
      }
      st.last = ep;
      st.lastFailure = out.failure;
      const step = out.failure.kind === 'server' ? await this.onServerFailure(st, ep, out.failure.error, t) : null;
      if (step === 'retry') continue;
      if (step === null && this.onTransportFailure(st, ep, out.failure, t)) continue;
      const waitMs = Math.min(backoffDelayMs(s.backoff, backoffs++, s.random01), st.deadline - Date.now());
      if (waitMs > 0) await sleep(waitMs);
    }
  }

  /**
   * Where the next attempt goes when nothing chose it: the key's shard leader, else the cluster leader, else
   * any; for a read from any replica, a replica of the key's shard when known, else any.
   */
  private pick(st: CallState, now: number): Endpoint {
    if (st.route === 'any') {
      const replica = st.key !== null ? (this.shards?.replicaFor(st.key, now, st.last) ?? null) : null;
      return replica ?? this.router.rotate(now, st.last);
    }
    const shardLeader = st.key !== null ? (this.shards?.leaderFor(st.key, now) ?? null) : null;
    return shardLeader ?? this.router.pickForLeader(now, st.last);
  }

  /** A server error: throws it when final; 'retry' to try again at once, 'backoff' to wait first. */
  private async onServerFailure(st: CallState, ep: Endpoint, error: TesseraError, t: number): Promise<Step> {
    st.everReached = true;
    ep.markReplied(t);
    const code = error.code;
    if (code === 'NOT_LEADER') return this.onNotLeader(st, ep, error, t);
    if (!error.retryable) throw withDetails(error, { indeterminate: st.maybeApplied, attempts: st.attempts });
    if (code === 'RESOURCE_EXHAUSTED') {
      st.next = ep;
      return 'backoff';
    }
    if (code === 'WRONG_SHARD' && st.key !== null && this.shards !== null) {
      // Nothing was applied; learn the owner (its descriptor and leader, or a reload) and go there at once.
      const leftMs = Math.min(st.deadline - Date.now(), this.settings.attemptTimeoutMs);
      const known = await this.shards.learnWrongShard(st.key, error, leftMs);
      // The owner's leader hosts the shard (a stale read goes there too rather than to any other node).
      st.next = known ? this.shards.leaderFor(st.key, Date.now()) : null;
      if (known && st.shardHops++ < SHARD_HOPS_MAX) return 'retry';
      return 'backoff';
    }
    // UNAVAILABLE (no quorum, leadership lost mid-proposal), DEADLINE_EXCEEDED, WRONG_SHARD.
    if (code !== 'WRONG_SHARD') st.maybeApplied = true;
    this.router.forgetLeader(ep);
    return 'backoff';
  }

  private async onNotLeader(st: CallState, ep: Endpoint, error: TesseraError, t: number): Promise<Step> {
    this.router.forgetLeader(ep);
    if (st.key !== null) this.shards?.noteNotLeader(st.key, ep, error.details);
    let resolved = this.router.resolveHint(error.details);
    if (resolved.kind === 'unknown' && !st.membersRefreshed && this.refreshMembers !== null) {
      // Maybe a member added since the client learned the cluster: ask a configured endpoint once.
      st.membersRefreshed = true;
      const budgetLeftMs = st.deadline - Date.now();
      if (budgetLeftMs > 0) await this.refreshMembers(Math.min(budgetLeftMs, this.settings.attemptTimeoutMs));
      resolved = this.router.resolveHint(error.details);
    }
    const hinted = resolved.kind === 'endpoint' ? resolved.endpoint : null;
    if (hinted === null || hinted === ep || st.hops >= 2 * this.router.endpoints().length) return 'backoff';
    const healthy = hinted.isHealthy(t);
    if (!healthy && st.unhealthyHintsFollowed > 0) return 'backoff';
    if (!healthy) st.unhealthyHintsFollowed++;
    // The cluster-wide leader only when the hint is not about one shard among many.
    else if (error.details.groupId === undefined || st.key === null) this.router.setLeader(hinted);
    st.hops++;
    st.next = hinted;
    return 'retry';
  }

  /** A timeout or connection failure; true to try the next endpoint at once. */
  private onTransportFailure(st: CallState, ep: Endpoint, f: AttemptFailure, t: number): boolean {
    const s = this.settings;
    this.shards?.forgetEndpoint(ep);
    if (f.kind === 'timeout') {
      st.maybeApplied = true;
      st.everReached = true;
      ep.markUnhealthy(t, s.unhealthyMs);
      this.router.forgetLeader(ep);
      return true; // the attempt already waited: no extra backoff
    }
    if (!NEVER_SENT_RE.test(f.error.message)) {
      st.maybeApplied = true;
      st.everReached = true;
    }
    ep.markUnhealthy(t, s.unhealthyMs);
    this.router.forgetLeader(ep);
    return this.hasHealthyOther(ep, t);
  }

  private hasHealthyOther(ep: Endpoint, nowMs: number): boolean {
    for (const other of this.router.endpoints()) if (other !== ep && other.isHealthy(nowMs)) return true;
    return false;
  }
}

function withDetails(e: TesseraError, extra: Record<string, unknown>): TesseraError {
  Object.assign(e.details, extra);
  return e;
}

function giveUp(method: string, budgetMs: number, st: CallState): TesseraError {
  const { attempts, maybeApplied, everReached } = st;
  const last = st.lastFailure;
  const lastText = last ? `; last error: ${last.error.message}` : '';
  const details = { indeterminate: maybeApplied, attempts, lastCode: last?.error.code };
  if (!everReached && last !== null) {
    return new TesseraError(
      'UNAVAILABLE',
      `${method}: no endpoint reachable within ${budgetMs} ms (${attempts} attempts)${lastText}`,
      details,
      {
        cause: last.error,
      },
    );
  }
  return new TesseraError(
    'DEADLINE_EXCEEDED',
    `${method}: deadline of ${budgetMs} ms exceeded after ${attempts} attempts${lastText}`,
    details,
    {
      cause: last?.error,
    },
  );
}
