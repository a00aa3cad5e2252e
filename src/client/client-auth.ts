/**
 * The SDK's side of access control (proto/auth.proto): with `user` and `password` in ClientOptions the
 * client logs in (Auth.Login) on its first call, through the endpoint that call goes to, and sends the
 * token on every call and stream as the metadata `authorization: Bearer <token>` (a channel interceptor,
 * authInterceptor). It logs in again when the token is near its expiry (past 80% of its lifetime) or when
 * a node answers UNAUTHENTICATED (a changed user, a reloaded auth file): the caller invalidates the token
 * it used and retries once.
 * Invariants: at most one login is in flight per client (concurrent calls wait for it, each up to its own
 * budget); the login itself has LOGIN_BUDGET_MS whatever the call that started it had (a background
 * status call with 1 s must not make every waiting call fail with its timeout when scrypt on a loaded node
 * takes longer); `generation`
 * changes with every new token, so holders of long-lived streams (the KV.Pipeline) know to open a new
 * one; the password stays in this object and is only sent to Auth.Login.
 */
import * as grpc from '@grpc/grpc-js';
import type { AttemptFailure } from './errors';

/** One Auth.Login attempt through some endpoint: the token and its expiry, or the attempt's failure. */
export type LoginAttempt = (
  user: string,
  password: string,
  timeoutMs: number,
) => Promise<{ ok: true; token: string; expiresAtMs: number } | { ok: false; failure: AttemptFailure }>;

/** A token is renewed once this share of its lifetime has passed. */
const RENEW_AT_SHARE = 0.8;
/** The time one login attempt may take (the node runs scrypt, bounded in concurrency). */
export const LOGIN_BUDGET_MS = 10_000;

export class ClientAuth {
  private token: string | null = null;
  private renewAtMs = 0;
  private pending: Promise<AttemptFailure | null> | null = null;
  /** Bumped on every new token. */
  generation = 0;

  constructor(
    private readonly user: string,
    private readonly password: string,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** The token to send now (null before the first login). */
  current(): string | null {
    return this.token;
  }

  /**
   * Makes sure a fresh token is held, logging in through `login` if needed (with at least LOGIN_BUDGET_MS);
   * null, or the login's failure. With `timedOut`, this caller waits at most waitMs and then gets
   * timedOut() while the login goes on for the others.
   */
  ensure(login: LoginAttempt, waitMs: number, timedOut?: () => AttemptFailure): Promise<AttemptFailure | null> {
    if (this.token !== null && this.nowMs() < this.renewAtMs) return Promise.resolve(null);
    this.pending ??= this.login(login, Math.max(waitMs, LOGIN_BUDGET_MS)).finally(() => {
      this.pending = null;
    });
    if (timedOut === undefined) return this.pending;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<AttemptFailure>((resolve) => {
      timer = setTimeout(() => resolve(timedOut()), waitMs);
      timer.unref?.();
    });
    return Promise.race([this.pending, late]).finally(() => clearTimeout(timer));
  }

  /** The node refused `token` (UNAUTHENTICATED): the next ensure() logs in again. */
  invalidate(token: string | null): void {
    if (token !== null && token === this.token) this.renewAtMs = 0;
  }

  private async login(login: LoginAttempt, timeoutMs: number): Promise<AttemptFailure | null> {
    const t0 = this.nowMs();
    const out = await login(this.user, this.password, timeoutMs);
    if (!out.ok) return out.failure;
    this.token = out.token;
    this.renewAtMs = t0 + Math.max(0, out.expiresAtMs - t0) * RENEW_AT_SHARE;
    this.generation++;
    return null;
  }
}

/** A client interceptor that sends the current token (if any) with every call the channel makes. */
export function authInterceptor(auth: ClientAuth): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        const token = auth.current();
        if (token !== null) metadata.set('authorization', `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}
