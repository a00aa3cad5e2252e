/**
 * L2 auth: access control for client calls (issue 11, "Access control"). The auth file (users, scrypt
 * password hashes, roles, key-prefix grants, the cluster's token secret), HMAC-signed bearer tokens any
 * node of the cluster accepts, and the pure checks of what each client method needs. Imports base/ only;
 * the gRPC side (checking every call) is server/auth-guard.ts, the login RPC server/auth-service.ts.
 */
export {
  AUTH_FILE_BYTES_MAX,
  PREFIXES_MAX,
  TOKEN_TTL_SECONDS_DEFAULT,
  USER_NAME_RE,
  loadAuthFile,
  newAuthFile,
  parseAuthFile,
  userDigest,
  writeAuthFile,
} from './auth-file';
export type { AuthFile, AuthUser } from './auth-file';
export { Authenticator, LOGINS_RUNNING_MAX, LOGINS_WAITING_MAX, unauthenticated } from './authenticator';
export { AUTH_FILE_WATCH_MS, authFilePoller } from './auth-file-watch';
export { LoginGate } from './login-gate';
export { combine, methodPolicyNames, multiOpRequirement, requirementOf } from './method-policy';
export { PASSWORD_BYTES_MAX, SCRYPT_DEFAULTS, hashPassword, scryptParamsProblem, verifyPassword } from './password';
export type { ScryptHash, ScryptParams } from './password';
export { ROLES, authorize, isRole, prefixEnd, roleIncludes } from './roles';
export type { Decision, KeyRange, Principal, Requirement, Role } from './roles';
export { TOKEN_CHARS_MAX, signToken, verifyToken } from './token';
export type { TokenCheck, TokenClaims } from './token';
