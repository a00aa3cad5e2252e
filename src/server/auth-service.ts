/**
 * The Auth service (proto/auth.proto): Login checks a user's password against the auth file and returns a
 * bearer token (auth/authenticator.ts: bounded scrypt work, the same refusal for a wrong user or password).
 * Login itself needs no token. On a node without --auth-file it answers FAILED_PRECONDITION.
 */
import type * as grpc from '@grpc/grpc-js';
import { TesseraError, isTesseraError } from '../base';
import type { Authenticator } from '../auth';
import type { NodeMetrics } from '../obs';
import { unary } from './unary';

interface LoginWire {
  user: string;
  password: string;
}

export function authServiceHandlers(
  auth: Authenticator | null,
  metrics: NodeMetrics,
  requestTimeoutMs: number,
): grpc.UntypedServiceImplementation {
  return {
    login: unary('Auth.Login', metrics, requestTimeoutMs, async (req: LoginWire) => {
      if (auth === null) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          'access control is off on this node (no --auth-file): call it without a user and password',
          { failedPrecondition: true },
        );
      }
      try {
        const out = await auth.login(req.user, req.password);
        metrics.logins.inc({ result: 'ok' });
        return out;
      } catch (e) {
        metrics.logins.inc({ result: isTesseraError(e) && e.code === 'RESOURCE_EXHAUSTED' ? 'busy' : 'refused' });
        throw e;
      }
    }),
  };
}
