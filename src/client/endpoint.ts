/**
 * One server address the SDK talks to: a gRPC channel shared by the KV and Admin stubs (created once and
 * reused by every call), plus what the SDK has learned about the node's health.
 * - lastReplyMs: when the node last answered anything (a success or a server error). An attempt that
 *   waits while the node answers other calls is "slow", not "dead", and keeps waiting.
 * - unhealthyUntilMs: the endpoint is avoided until then (set on connection failures and on timeouts of a
 *   silent node), so a dead or paused leader is abandoned after one attempt timeout.
 * Invariant: unary() never throws; it resolves to a discriminated outcome.
 */
import * as grpc from '@grpc/grpc-js';
import { assert } from '../base';
import type { NodeId } from '../base';
import { Coalescer, type AttemptOutcome, type MultiStub } from './coalescer';
import type { PipelineStub } from './pipeline';
import { attemptTimeout, classifyGrpcError } from './errors';
import type { ServiceClientCtor } from './proto';
import { authInterceptor, type ClientAuth, type LoginAttempt } from './client-auth';

export type ServiceName = 'kv' | 'admin';

export type { AttemptOutcome } from './coalescer';

/** Test-only fault injection at the transport boundary (see ClientOptions.faultInjection). */
export interface FaultInjection {
  /** Called after a successful reply; returning true discards it as if it was lost on the network. */
  dropReply?: (info: { method: string; endpoint: string }) => boolean;
}

type UnaryStub = (
  request: unknown,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, value?: unknown) => void,
) => grpc.ClientUnaryCall;

/** The longest a login waits for its node (scrypt takes ~0.1 s; a node caps logins running at once). */
const LOGIN_TIMEOUT_MS = 3000;

const ADDRESS_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-_]+):(\d{1,5})$/;

export function isEndpointAddress(address: string): boolean {
  const m = ADDRESS_RE.exec(address);
  return m !== null && Number(m[2]) > 0 && Number(m[2]) < 65536;
}

export class Endpoint {
  readonly address: string;
  nodeId: NodeId | null = null;
  unhealthyUntilMs = 0;
  lastReplyMs = Number.NEGATIVE_INFINITY;
  private readonly kv: grpc.Client;
  private readonly admin: grpc.Client;
  private readonly faults: FaultInjection | undefined;
  private readonly stubs = new Map<string, UnaryStub>();
  private readonly coalescer: Coalescer;
  /** Auth.Login on this endpoint's channel (null without access control). */
  private readonly authClient: grpc.Client | null = null;
  /** The token generation the coalescer's stream was opened with (client-auth.ts). */
  private tokenGeneration = 0;

  constructor(
    address: string,
    ctors: { KV: ServiceClientCtor; Admin: ServiceClientCtor; Auth?: ServiceClientCtor },
    channelOptions: grpc.ChannelOptions,
    faults: FaultInjection | undefined,
    /** Plaintext or TLS (tls.ts); the one channel below (KV and Admin share it) uses them for every call and stream. */
    creds: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
    /** Access control (client-auth.ts): log in first, send the token with every call; null: none. */
    private readonly auth: ClientAuth | null = null,
  ) {
    this.address = address;
    this.faults = faults;
    const options = auth === null ? channelOptions : { ...channelOptions, interceptors: [authInterceptor(auth)] };
    this.kv = new ctors.KV(address, creds, options);
    this.admin = new ctors.Admin(address, creds, { ...options, channelOverride: this.kv.getChannel() });
    if (auth !== null && ctors.Auth !== undefined)
      this.authClient = new ctors.Auth(address, creds, { ...channelOptions, channelOverride: this.kv.getChannel() });
    const dropReply = faults?.dropReply;
    this.coalescer = new Coalescer({
      address,
      lastReplyMs: () => this.lastReplyMs,
      noteReply: (nowMs) => {
        this.lastReplyMs = nowMs;
      },
      multi: this.stub('kv', 'Multi') as unknown as MultiStub,
      pipeline: this.stub('kv', 'Pipeline') as unknown as PipelineStub,
      single: (method, request, softMs, hardMs) => this.single('kv', method, request, softMs, hardMs),
      ...(dropReply !== undefined ? { dropReply } : {}),
    });
  }

  isHealthy(nowMs: number): boolean {
    return nowMs >= this.unhealthyUntilMs;
  }

  markUnhealthy(nowMs: number, forMs: number): void {
    this.unhealthyUntilMs = Math.max(this.unhealthyUntilMs, nowMs + forMs);
  }

  /** Records an answer from the node (success or a server error): it is alive. */
  markReplied(nowMs: number): void {
    this.lastReplyMs = nowMs;
    this.unhealthyUntilMs = 0;
  }

  /**
   * One attempt. The gRPC deadline is hardMs (the rest of the call's budget); every softMs the attempt
   * checks whether this endpoint answered anything (any call) in the last window: if it did, the node is
   * alive but busy and the attempt keeps waiting (no duplicate request is sent to a loaded server); if it
   * did not, the node is presumed dead or paused and the attempt is cancelled as a timeout.
   */
  unary<T>(
    service: ServiceName,
    method: string,
    request: unknown,
    softMs: number,
    hardMs: number = softMs,
  ): Promise<AttemptOutcome<T>> {
    if (this.auth !== null) return this.authorized<T>(this.auth, service, method, request, softMs, hardMs);
    return this.dispatch<T>(service, method, request, softMs, hardMs);
  }

  /**
   * With access control: a fresh token first (a login through this endpoint when needed); a call the node
   * refuses with UNAUTHENTICATED (expired, or the user changed) was not run, and is sent once more after a
   * new login. A new token also moves later requests to a new Pipeline stream (its metadata is per stream).
   */
  private async authorized<T>(
    auth: ClientAuth,
    service: ServiceName,
    method: string,
    request: unknown,
    softMs: number,
    hardMs: number,
  ): Promise<AttemptOutcome<T>> {
    const t0 = Date.now();
    for (let attempt = 0; ; attempt++) {
      const waitMs = Math.min(hardMs, Math.max(softMs, LOGIN_TIMEOUT_MS));
      const failure = await auth.ensure(this.login, waitMs, () =>
        attemptTimeout(method, this.address, waitMs, 'logging in'),
      );
      if (failure !== null) return { ok: false, failure };
      if (auth.generation !== this.tokenGeneration) {
        this.tokenGeneration = auth.generation;
        this.coalescer.renew();
      }
      const token = auth.current();
      const leftMs = hardMs - (Date.now() - t0);
      if (leftMs <= 0) return { ok: false, failure: attemptTimeout(method, this.address, hardMs, 'logging in') };
      const out = await this.dispatch<T>(service, method, request, Math.min(softMs, leftMs), leftMs);
      if (out.ok || out.failure.error.code !== 'UNAUTHENTICATED' || attempt > 0) return out;
      auth.invalidate(token);
    }
  }

  /**
   * A server-streaming Admin call (e.g. BackupShard, src/backup) on this endpoint's channel: its TLS and,
   * with access control, a fresh login token. One attempt: the caller handles failures.
   */
  async adminStream<Res>(
    method: string,
    request: unknown,
    deadlineMs: number,
  ): Promise<grpc.ClientReadableStream<Res>> {
    if (this.auth !== null) {
      const waitMs = Math.min(deadlineMs, LOGIN_TIMEOUT_MS);
      const failure = await this.auth.ensure(this.login, waitMs, () =>
        attemptTimeout(method, this.address, waitMs, 'logging in'),
      );
      if (failure !== null) throw failure.error;
    }
    const fn = (this.admin as unknown as Record<string, unknown>)[method];
    assert(typeof fn === 'function', () => `unknown admin method ${method}`);
    return (fn as (req: unknown, opts: grpc.CallOptions) => grpc.ClientReadableStream<Res>).call(this.admin, request, {
      deadline: Date.now() + deadlineMs,
    });
  }

  /** One Auth.Login through this endpoint. */
  private readonly login: LoginAttempt = (user, password, timeoutMs) =>
    new Promise((resolve) => {
      const c = this.authClient as unknown as Record<string, UnaryStub> | null;
      if (c === null) {
        resolve({ ok: false, failure: attemptTimeout('Login', this.address, 0, 'the SDK has no Auth service') });
        return;
      }
      c.login!.call(c, { user, password }, { deadline: Date.now() + timeoutMs }, (err, value) => {
        if (err) {
          const failure = classifyGrpcError(err, 'Login', this.address);
          if (failure.kind === 'server') this.lastReplyMs = Date.now();
          resolve({ ok: false, failure });
          return;
        }
        this.lastReplyMs = Date.now();
        const v = value as { token: string; expiresAtMs: number };
        resolve({ ok: true, token: v.token, expiresAtMs: v.expiresAtMs });
      });
    });

  /** One attempt without access control (or with a token already held). */
  private dispatch<T>(
    service: ServiceName,
    method: string,
    request: unknown,
    softMs: number,
    hardMs: number,
  ): Promise<AttemptOutcome<T>> {
    // Single-key KV calls made in the same turn share one message on the node's KV.Pipeline stream (coalescer.ts).
    if (service === 'kv' && this.coalescer.accepts(method, request))
      return this.coalescer.submit<T>(method, request, softMs, hardMs);
    return this.single<T>(service, method, request, softMs, hardMs);
  }

  /** One attempt as its own gRPC call. */
  private single<T>(
    service: ServiceName,
    method: string,
    request: unknown,
    softMs: number,
    hardMs: number,
  ): Promise<AttemptOutcome<T>> {
    const stub = this.stub(service, method);
    return new Promise((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | null = null;
      let windowStartMs = Date.now();
      // No Metadata argument: grpc-js creates (and mutates) a fresh one per call; a shared one breaks calls.
      const call = stub(request, { deadline: windowStartMs + hardMs }, (err, value) => {
        if (settled) return;
        settled = true;
        if (timer !== null) clearTimeout(timer);
        if (err) {
          const failure = classifyGrpcError(err, method, this.address);
          if (failure.kind === 'server') this.lastReplyMs = Date.now();
          resolve({ ok: false, failure });
          return;
        }
        this.lastReplyMs = Date.now();
        const drop = this.faults?.dropReply;
        if (drop !== undefined && drop({ method, endpoint: this.address })) {
          resolve({
            ok: false,
            failure: attemptTimeout(method, this.address, softMs, 'reply dropped by faultInjection'),
          });
          return;
        }
        resolve({ ok: true, value: value as T });
      });
      if (softMs < hardMs) {
        // Decide in the check phase (setImmediate), after the event loop has polled I/O: replies that
        // arrived while this process was busy count as signs of life before a timer can call the node dead.
        // A timer that fires late (this process itself was stalled) re-arms instead of deciding.
        const decide = (): void => {
          if (settled) return;
          const now = Date.now();
          const stalled = now - windowStartMs > 2 * softMs;
          if (this.lastReplyMs > windowStartMs || stalled) {
            windowStartMs = now;
            timer = setTimeout(check, softMs);
            return;
          }
          settled = true;
          call.cancel();
          resolve({
            ok: false,
            failure: attemptTimeout(method, this.address, softMs, 'no sign of life from the node'),
          });
        };
        const check = (): void => {
          if (!settled) setImmediate(decide);
        };
        timer = setTimeout(check, softMs);
      }
    });
  }

  close(): void {
    this.coalescer.close();
    this.authClient?.close();
    this.admin.close();
    this.kv.close();
  }

  private stub(service: ServiceName, method: string): UnaryStub {
    const key = service === 'kv' ? method : `admin.${method}`;
    let stub = this.stubs.get(key);
    if (stub === undefined) {
      const client = service === 'kv' ? this.kv : this.admin;
      const fn = (client as unknown as Record<string, UnaryStub | undefined>)[method];
      assert(typeof fn === 'function', () => `unknown ${service} method ${method}`);
      stub = fn.bind(client) as UnaryStub;
      this.stubs.set(key, stub);
    }
    return stub;
  }
}
