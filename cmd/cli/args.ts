/**
 * Shared command-line plumbing for the tessera CLI: the global options every command accepts
 * (--endpoints, --json, --deadline-ms, --encoding, --tls-ca/--tls-cert/--tls-key/--tls-server-name,
 * --user (its password from TESSERA_PASSWORD or a prompt, password.ts), --help), a parseArgs wrapper that turns parse failures into UsageError (exit 2), byte encodings for keys
 * and values, and the exit codes. TLS files are read and checked before any connection (a bad one: exit 2).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { Client, checkTlsOptions } from '../../src/client';
import type { ClientTlsOptions } from '../../src/client';
import { isTesseraError } from '../../src/base';
import { passwordFor } from './password';

export const EXIT_OK = 0;
/** The operation did not succeed: missing key, failed comparison, or an error reported by the cluster. */
export const EXIT_FAILED = 1;
/** Bad command line. */
export const EXIT_USAGE = 2;
/** The cluster could not be reached or did not answer in time (UNAVAILABLE, DEADLINE_EXCEEDED). */
export const EXIT_UNAVAILABLE = 3;

export const DEFAULT_ENDPOINTS = '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export type Encoding = 'utf8' | 'hex' | 'base64';

export interface GlobalOptions {
  endpoints: string[];
  json: boolean;
  deadlineMs: number;
  encoding: Encoding;
  /** TLS for every connection (from --tls-* or TESSERA_TLS_*); null: plaintext. */
  tls: ClientTlsOptions | null;
  /** Log in as this user (--user or TESSERA_USER; a cluster with --auth-file); null: no credentials. */
  user: string | null;
}

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

export const globalOptionSpecs: OptionSpecs = {
  endpoints: { type: 'string' },
  json: { type: 'boolean' },
  'deadline-ms': { type: 'string' },
  encoding: { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-server-name': { type: 'string' },
  user: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export const globalOptionsHelp = `Global options:
  --endpoints HOST:PORT,...  nodes to contact (default ${DEFAULT_ENDPOINTS}; env TESSERA_ENDPOINTS)
  --json                     machine-readable output
  --deadline-ms N            per-request deadline including retries (default 5000)
  --encoding utf8|hex|base64 how KEY/VALUE arguments are given and values printed (default utf8)
  --tls-ca FILE              connect with TLS, trusting nodes whose certificate this CA (PEM) signed
                             (env TESSERA_TLS_CA)
  --tls-cert FILE            client certificate (PEM) for nodes that require one (mutual TLS); with
  --tls-key FILE             its private key (env TESSERA_TLS_CERT, TESSERA_TLS_KEY)
  --tls-server-name NAME     name to check in the nodes' certificates instead of the endpoint host
  --user NAME                log in as NAME on a cluster with access control (env TESSERA_USER); the
                             password comes from env TESSERA_PASSWORD, else a prompt on the terminal
  -h, --help                 this help`;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  global: GlobalOptions;
}

export function parse(argv: string[], options: OptionSpecs, env: NodeJS.ProcessEnv = process.env): Parsed {
  let result: { values: Record<string, unknown>; positionals: string[] };
  try {
    result = parseArgs({
      args: argv,
      options: { ...globalOptionSpecs, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const values = result.values as Record<string, string | boolean | undefined>;
  const endpointsText = (values.endpoints as string | undefined) ?? env.TESSERA_ENDPOINTS ?? DEFAULT_ENDPOINTS;
  const endpoints = endpointsText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (endpoints.length === 0) throw new UsageError('--endpoints: at least one HOST:PORT is required');
  for (const e of endpoints)
    if (!/^[^:\s]+:\d{1,5}$/.test(e)) throw new UsageError(`--endpoints: '${e}' is not HOST:PORT`);
  const encoding = ((values.encoding as string | undefined) ?? 'utf8') as Encoding;
  if (!['utf8', 'hex', 'base64'].includes(encoding))
    throw new UsageError(`--encoding must be utf8, hex or base64, got '${encoding}'`);
  const deadlineMs = intOption(values, 'deadline-ms', 5000, 1);
  const tls = tlsOptions(values, env);
  const user = (values.user as string | undefined) ?? env.TESSERA_USER ?? null;
  if (user === '') throw new UsageError('--user must not be empty');
  return {
    values,
    positionals: result.positionals,
    global: { endpoints, json: values.json === true, deadlineMs, encoding, tls, user },
  };
}

const TLS_FILES = [
  { option: 'ca', flag: 'tls-ca', env: 'TESSERA_TLS_CA' },
  { option: 'cert', flag: 'tls-cert', env: 'TESSERA_TLS_CERT' },
  { option: 'key', flag: 'tls-key', env: 'TESSERA_TLS_KEY' },
] as const;

/** The SDK's tls option from the flags (or their environment variables): files read, material checked. */
function tlsOptions(values: Record<string, unknown>, env: NodeJS.ProcessEnv): ClientTlsOptions | null {
  const paths = new Map<'ca' | 'cert' | 'key', { path: string; flag: string }>();
  for (const f of TLS_FILES) {
    const raw = (values[f.flag] as string | undefined) ?? env[f.env];
    if (raw === undefined || raw === '') continue;
    paths.set(f.option, { path: raw, flag: values[f.flag] !== undefined ? `--${f.flag}` : f.env });
  }
  const serverName = values['tls-server-name'] as string | undefined;
  if (paths.size === 0 && serverName === undefined) return null;
  if (!paths.has('ca'))
    throw new UsageError(
      `--tls-ca FILE is required with ${[...paths.values()].map((p) => p.flag)[0] ?? '--tls-server-name'}`,
    );
  if (paths.has('cert') !== paths.has('key')) throw new UsageError('--tls-cert and --tls-key go together');
  const read = (option: 'ca' | 'cert' | 'key'): Buffer | undefined => {
    const p = paths.get(option);
    if (p === undefined) return undefined;
    try {
      return readFileSync(p.path);
    } catch (e) {
      throw new UsageError(`${p.flag}: cannot read '${p.path}': ${(e as Error).message}`);
    }
  };
  const cert = read('cert');
  const key = read('key');
  const tls: ClientTlsOptions = {
    ca: read('ca')!,
    ...(cert && key ? { cert, key } : {}),
    ...(serverName !== undefined ? { serverName } : {}),
  };
  try {
    // As the SDK will when the client is made, but now, so that a bad file is a usage error naming its flag.
    checkTlsOptions(tls);
  } catch (e) {
    if (!isTesseraError(e) || e.code !== 'CONFIG') throw e;
    const named = e.message
      .replace(/^Client: /, '')
      .replace(
        /tls\.(ca|cert|key)\b/g,
        (_m, o: 'ca' | 'cert' | 'key') => `${paths.get(o)?.flag} '${paths.get(o)?.path}'`,
      );
    throw new UsageError(named.replace(/tls\.serverName/, '--tls-server-name'));
  }
  return tls;
}

export function intOption(
  values: Record<string, unknown>,
  name: string,
  def: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = values[name];
  if (raw === undefined) return def;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got '${String(raw)}'`);
  }
  return n;
}

export function expectPositionals(p: Parsed, min: number, max: number, usage: string): string[] {
  if (p.positionals.length < min || p.positionals.length > max) throw new UsageError(`usage: ${usage}`);
  return p.positionals;
}

export function decodeArg(text: string, encoding: Encoding, what: string): Buffer {
  if (encoding === 'utf8') return Buffer.from(text, 'utf8');
  if (encoding === 'hex') {
    if (!/^([0-9a-fA-F]{2})*$/.test(text)) throw new UsageError(`${what} is not valid hex: '${text}'`);
    return Buffer.from(text, 'hex');
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new UsageError(`${what} is not valid base64: '${text}'`);
  return Buffer.from(text, 'base64');
}

export function encodeBytes(b: Buffer, encoding: Encoding): string {
  return b.toString(encoding);
}

/** `password`: the --user's (passwordFor, password.ts), when --user is set. */
export function makeClient(g: GlobalOptions, password: string | null = null): Client {
  return new Client({
    endpoints: g.endpoints,
    deadlineMs: g.deadlineMs,
    ...(g.tls !== null ? { tls: g.tls } : {}),
    ...(g.user !== null && password !== null ? { user: g.user, password } : {}),
  });
}

/** Runs fn with a client (logged in as --user, if set) that is always closed afterwards. */
export async function withClient<T>(g: GlobalOptions, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = makeClient(g, g.user === null ? null : await passwordFor(`user '${g.user}'`));
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Exit code for an error thrown by the SDK or the CLI. */
export function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError) return EXIT_USAGE;
  if (isTesseraError(e) && (e.code === 'UNAVAILABLE' || e.code === 'DEADLINE_EXCEEDED')) return EXIT_UNAVAILABLE;
  return EXIT_FAILED;
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
