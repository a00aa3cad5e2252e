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

export type Route = 'leader' | 'any';

/** Per-call routing and timing choices beyond the route. */
export interface CallOptions {
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

export class Invoker {
  private closed = false;

  constructor(
    private readonly router: Router,
    private readonly settings: InvokerSettings,
    private readonly refreshMembers: MembersRefresh | null = null,
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
    const deadline = Date.now() + budgetMs;
    let next: Endpoint | null = null;
    let last: Endpoint | null = null;
    let attempts = 0;
    let backoffs = 0;
    let hops = 0;
    let unhealthyHintsFollowed = 0;
    let membersRefreshed = false;
    let maybeApplied = false;
    let everReached = false;
    let lastFailure: AttemptFailure | null = null;

    for (;;) {
      if (this.closed)
        throw new TesseraError('UNAVAILABLE', `${method}: client is closed`, { indeterminate: maybeApplied });
      const now = Date.now();
      const remaining = deadline - now;
      if (remaining <= 0) throw giveUp(method, budgetMs, attempts, maybeApplied, everReached, lastFailure);
      const ep: Endpoint =
        next ?? (route === 'leader' ? this.router.pickForLeader(now, last) : this.router.rotate(now, last));
      next = null;
      attempts++;
      const softMs = options.patient === true ? remaining : Math.min(remaining, s.attemptTimeoutMs);
      const out = await ep.unary<T>(service, method, request, softMs, remaining);
      const t = Date.now();
      if (out.ok) {
        ep.markReplied(t);
        if (route === 'leader') this.router.setLeader(ep);
        return out.value;
      }
      const f = out.failure;
      last = ep;
      lastFailure = f;

      if (f.kind === 'server') {
        everReached = true;
        ep.markReplied(t);
        const code = f.error.code;
        if (code === 'NOT_LEADER') {
          this.router.forgetLeader(ep);
          let resolved = this.router.resolveHint(f.error.details);
          if (resolved.kind === 'unknown' && !membersRefreshed && this.refreshMembers !== null) {
            // Maybe a member added since the client learned the cluster: ask a configured endpoint once.
            membersRefreshed = true;
            const budgetLeftMs = deadline - Date.now();
            if (budgetLeftMs > 0) await this.refreshMembers(Math.min(budgetLeftMs, s.attemptTimeoutMs));
            resolved = this.router.resolveHint(f.error.details);
          }
          const hinted = resolved.kind === 'endpoint' ? resolved.endpoint : null;
          if (hinted !== null && hinted !== ep && hops < 2 * this.router.endpoints().length) {
            const healthy = hinted.isHealthy(t);
            if (healthy || unhealthyHintsFollowed === 0) {
              if (!healthy) unhealthyHintsFollowed++;
              else this.router.setLeader(hinted);
              hops++;
              next = hinted;
              continue;
            }
          }
        } else if (!f.error.retryable) {
          throw withDetails(f.error, { indeterminate: maybeApplied, attempts });
        } else if (code === 'RESOURCE_EXHAUSTED') {
          next = ep;
        } else {
          // UNAVAILABLE (no quorum, leadership lost mid-proposal), DEADLINE_EXCEEDED, WRONG_SHARD.
          if (code !== 'WRONG_SHARD') maybeApplied = true;
          this.router.forgetLeader(ep);
        }
      } else if (f.kind === 'timeout') {
        maybeApplied = true;
        everReached = true;
        ep.markUnhealthy(t, s.unhealthyMs);
        this.router.forgetLeader(ep);
        continue; // the attempt already waited: no extra backoff
      } else {
        if (!NEVER_SENT_RE.test(f.error.message)) {
          maybeApplied = true;
          everReached = true;
        }
        ep.markUnhealthy(t, s.unhealthyMs);
        this.router.forgetLeader(ep);
        if (this.hasHealthyOther(ep, t)) continue;
      }
      const waitMs = Math.min(backoffDelayMs(s.backoff, backoffs++, s.random01), deadline - Date.now());
      if (waitMs > 0) await sleep(waitMs);
    }
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

function giveUp(
  method: string,
  budgetMs: number,
  attempts: number,
  maybeApplied: boolean,
  everReached: boolean,
  last: AttemptFailure | null,
): TesseraError {
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
