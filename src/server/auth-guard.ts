/**
 * Access control on the client listener (issue 11): with an auth file, every method of every public
 * service (KV, Admin: all methods of their loaded service definitions, so a method added later is covered
 * too) is wrapped so that, before its handler runs:
 * - the bearer token of the call (metadata `authorization: Bearer <token>`) is verified: none, malformed,
 *   altered, expired or naming a changed user -> UNAUTHENTICATED;
 * - the user's role and key-prefix grants are checked against what the method needs for this request
 *   (auth/method-policy.ts): not allowed -> PERMISSION_DENIED.
 * A refused call never reaches its handler: nothing is read, proposed or changed. Unary calls and KV.Multi
 * (every op checked before any runs) are checked whole; KV.Pipeline is authenticated when the stream opens
 * and each op is checked as it arrives (pipelineOpDenial: its own PERMISSION_DENIED, or UNAUTHENTICATED once
 * the token expired or, verified again every RECHECK_MS, no longer names a current user), since a stream
 * outlives single requests.
 * The peer path (Raft, ForwardMeta, placement RPCs) is not guarded here: it has the cluster token and mTLS.
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError } from '../base';
import {
  TOKEN_CHARS_MAX,
  authorize,
  multiOpRequirement,
  requirementOf,
  unauthenticated,
  type Authenticator,
  type Principal,
} from '../auth';
import { toGrpcStatus, toRequestError, type RequestErrorWire } from './errors';

export const AUTHORIZATION_HEADER = 'authorization';

interface StreamAccess {
  token: string;
  principal: Principal;
  expiresAtMs: number;
  auth: Authenticator;
  /** When the token was last verified in full (a changed or removed user is noticed within RECHECK_MS). */
  checkedAtMs: number;
}

/** How often an open stream's token is verified again in full (not only its expiry). */
const RECHECK_MS = 1000;

/** The principal of each open guarded stream (KV.Pipeline), for its per-op checks. */
const streams = new WeakMap<object, StreamAccess>();

/** The token of a call's metadata (`authorization: Bearer <token>`), or null; an oversized header is null. */
export function bearerTokenOf(metadata: grpc.Metadata | undefined): string | null {
  const values = metadata?.get(AUTHORIZATION_HEADER) ?? [];
  if (values.length !== 1) return null;
  const v = values[0];
  const text = typeof v === 'string' ? v : '';
  if (text.length > TOKEN_CHARS_MAX + 16) return null;
  const m = /^Bearer ([A-Za-z0-9._-]+)$/.exec(text);
  return m ? (m[1] as string) : null;
}

/** The principal of the call, allowed to call `method` with `request`; throws UNAUTHENTICATED / PERMISSION_DENIED. */
function admit(auth: Authenticator, method: string, metadata: grpc.Metadata, request: unknown): Principal {
  const token = bearerTokenOf(metadata);
  if (token === null && metadata.get(AUTHORIZATION_HEADER).length > 0)
    throw unauthenticated('malformed authorization metadata: expected one "Bearer <token>"');
  const principal = auth.verify(token);
  const decision = authorize(principal, requirementOf(method, request));
  if (!decision.ok) throw new TesseraError('PERMISSION_DENIED', `${method}: ${decision.reason}`);
  return principal;
}

/** Counts each refusal by its code (tessera_auth_refused_total). */
export type RefusalCounter = (code: 'UNAUTHENTICATED' | 'PERMISSION_DENIED') => void;

function statusOf(e: unknown, refused: RefusalCounter): grpc.StatusObject {
  const s = toGrpcStatus(e);
  refused(s.code === grpc.status.PERMISSION_DENIED ? 'PERMISSION_DENIED' : 'UNAUTHENTICATED');
  return { code: s.code, details: s.details, metadata: s.metadata };
}

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> & grpc.ServerWritableStream<unknown, unknown>;
type AnyHandler = (...args: unknown[]) => void;

function guardOne(
  auth: Authenticator,
  method: string,
  attrs: grpc.MethodDefinition<unknown, unknown>,
  h: AnyHandler,
  refused: RefusalCounter,
) {
  if (!attrs.requestStream && !attrs.responseStream) {
    return (call: AnyCall, callback: grpc.sendUnaryData<unknown>) => {
      try {
        admit(auth, method, call.metadata, call.request);
      } catch (e) {
        callback(statusOf(e, refused));
        return;
      }
      h(call, callback);
    };
  }
  if (!attrs.requestStream) {
    return (call: AnyCall) => {
      try {
        admit(auth, method, call.metadata, call.request);
      } catch (e) {
        call.emit('error', statusOf(e, refused));
        return;
      }
      h(call);
    };
  }
  return (call: AnyCall) => {
    try {
      const principal = admit(auth, method, call.metadata, null);
      const token = bearerTokenOf(call.metadata) as string;
      streams.set(call, { token, principal, expiresAtMs: auth.expiryOf(token), auth, checkedAtMs: Date.now() });
    } catch (e) {
      call.emit('error', statusOf(e, refused));
      return;
    }
    h(call);
  };
}

/**
 * `impl` with every method of `definition` guarded (service name `service`, e.g. 'KV'). A method without a
 * handler in `impl` stays unimplemented; the returned object is keyed by the handlers' names.
 */
export function guardService(
  service: string,
  definition: grpc.ServiceDefinition,
  impl: grpc.UntypedServiceImplementation,
  auth: Authenticator,
  refused: RefusalCounter = () => undefined,
): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, attrs] of Object.entries(definition)) {
    // As grpc-js's addService looks handlers up: by the method name, then by its original (camelCase) name.
    const key = impl[name] === undefined && attrs.originalName !== undefined ? attrs.originalName : name;
    const found = impl[key] as unknown as AnyHandler | undefined;
    if (found === undefined) continue;
    const handler: AnyHandler = (...args) => found.apply(impl, args);
    out[key] = guardOne(auth, `${service}.${name}`, attrs, handler, refused) as unknown as grpc.UntypedHandleCall;
  }
  return out;
}

const EXPIRED = toRequestError(unauthenticated('token expired; log in again'));

/**
 * The refusal of one op of a guarded stream (KV.Pipeline), or null when it may run (or the stream is not
 * guarded: access control is off).
 */
export function pipelineOpDenial(call: object, op: unknown): { error: RequestErrorWire } | null {
  const access = streams.get(call);
  if (access === undefined) return null;
  const now = Date.now();
  if (now >= access.expiresAtMs) return { error: EXPIRED };
  if (now - access.checkedAtMs >= RECHECK_MS) {
    try {
      access.principal = access.auth.verify(access.token);
      access.checkedAtMs = now;
    } catch (e) {
      return { error: toRequestError(e) };
    }
  }
  const decision = authorize(access.principal, multiOpRequirement(op as Record<string, unknown>));
  if (decision.ok) return null;
  return { error: toRequestError(new TesseraError('PERMISSION_DENIED', `KV.Pipeline: ${decision.reason}`)) };
}
