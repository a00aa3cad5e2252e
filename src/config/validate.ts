/**
 * Turns merged raw values into a fully defaulted, validated NodeConfig, or throws
 * TesseraError('CONFIG') with a message naming the offending flag / variable / file key.
 */
import { TesseraError, isNodeId, type NodeId } from '../base';
import {
  DEFAULTS,
  MEMORY_BUDGET_MIB_MAX,
  MEMORY_BUDGET_MIB_MIN,
  PROFILES,
  SESSION_TTL_MS_MIN,
  derivedLogRetainEntries,
  derivedTickMs,
} from './defaults';
import type { RawConfig, RawValue } from './load';
import { OPTIONS } from './options';
import type { HostPort, LogLevel, NodeConfig, ProfileName, TlsFiles } from './types';

function fail(message: string): never {
  throw new TesseraError('CONFIG', message);
}

export function parseHostPort(text: string, what: string): HostPort {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(text.trim());
  if (!m) fail(`${what}: '${text}' is not HOST:PORT`);
  const port = Number(m[2]);
  if (port > 65535) fail(`${what}: port ${port} is out of range 0..65535`);
  return { host: m[1] as string, port };
}

export function formatHostPort(hp: HostPort): string {
  return `${hp.host}:${hp.port}`;
}

/** True for a wildcard bind address (0.0.0.0, ::, [::], 0): a listener may use it, a peer cannot dial it. */
export function isUnspecifiedHost(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return h === '0' || /^0+(\.0+){3}$/.test(h) || (h.includes(':') && /^[0:]+$/.test(h));
}

const UNREACHABLE_HINT = 'peers must be reachable addresses; use --listen 0.0.0.0:P with --peers ID=<reachable host>:P';

/**
 * "1=h:p,2=h:p" or a JSON object {"1": "h:p"} or an array ["1=h:p"]. Every item must be ID=HOST:PORT with
 * a host peers can dial: empty items (",,", a trailing comma, "=") and wildcard hosts (0.0.0.0, ::) are
 * refused.
 */
export function parsePeers(value: unknown, what: string): Map<NodeId, string> {
  let pairs: [string, string][];
  if (typeof value === 'string') {
    const items = value.split(',').map((s) => s.trim());
    pairs = items.map((s, i) => {
      if (s === '')
        fail(`${what}: item ${i + 1} of ${items.length} is empty (expected ID=HOST:PORT,... without empty items)`);
      const eq = s.indexOf('=');
      if (eq <= 0) fail(`${what}: '${s}' is not ID=HOST:PORT`);
      return [s.slice(0, eq), s.slice(eq + 1)];
    });
  } else if (Array.isArray(value)) {
    return parsePeers(value.map(String).join(','), what);
  } else if (typeof value === 'object' && value !== null) {
    pairs = Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v)]);
  } else fail(`${what}: expected ID=HOST:PORT,...`);
  const peers = new Map<NodeId, string>();
  for (const [idText, address] of pairs) {
    const id = Number(idText);
    if (!/^\d+$/.test(idText.trim()) || !isNodeId(id))
      fail(`${what}: '${idText}' is not a node id (a positive integer)`);
    if (peers.has(id)) fail(`${what}: node id ${id} appears twice`);
    if (address.trim() === '' || address.trim().startsWith(':'))
      fail(`${what} (node ${id}): '${address}' has no host; ${UNREACHABLE_HINT}`);
    const hp = parseHostPort(address, `${what} (node ${id})`);
    if (hp.port === 0) fail(`${what} (node ${id}): port 0 is not an address peers can reach`);
    if (isUnspecifiedHost(hp.host))
      fail(`${what} (node ${id}): ${hp.host} is a wildcard bind address; ${UNREACHABLE_HINT}`);
    peers.set(id, formatHostPort(hp));
  }
  return peers;
}

function toInt(raw: RawValue, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = raw.value;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) fail(`${raw.source}: '${String(v)}' is not an integer`);
  if (n < min || n > max) fail(`${raw.source}: ${n} is out of range ${min}..${max}`);
  return n;
}

function toBool(raw: RawValue): boolean {
  const v = raw.value;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  return fail(`${raw.source}: '${String(v)}' is not true or false`);
}

function toStringValue(raw: RawValue, values?: readonly string[]): string {
  if (typeof raw.value !== 'string' || raw.value === '') fail(`${raw.source}: expected a non-empty string`);
  if (values && !values.includes(raw.value)) fail(`${raw.source}: '${raw.value}' is not one of ${values.join(', ')}`);
  return raw.value;
}

/**
 * A certificate/key pair (both or neither) and an optional CA; with `caRequired` (peer mTLS) all three.
 * Only paths are checked here; the files are read (and a bad PEM reported) when the node starts.
 */
function tlsFiles(
  raw: RawConfig,
  certKey: string,
  keyKey: string,
  caKey: string,
  caRequired: boolean,
): TlsFiles | null {
  const cert = raw.get(certKey);
  const key = raw.get(keyKey);
  const ca = raw.get(caKey);
  if (cert === undefined && key === undefined && ca === undefined) return null;
  const flag = (k: string) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
  if (cert === undefined || key === undefined) fail(`${flag(certKey)} and ${flag(keyKey)} go together`);
  if (caRequired && ca === undefined)
    fail(`${flag(caKey)} is required with ${flag(certKey)} (peers authenticate each other)`);
  return { cert: toStringValue(cert), key: toStringValue(key), ca: ca === undefined ? null : toStringValue(ca) };
}

export function validateNodeConfig(raw: RawConfig): NodeConfig {
  const spec = (key: string) => OPTIONS.find((o) => o.key === key);
  const required = (key: string): RawValue => {
    const v = raw.get(key);
    if (v === undefined) fail(`missing required option --${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`);
    return v;
  };
  const int = (key: string, fallback: number, min = 1, max?: number): number => {
    const v = raw.get(key);
    return v === undefined ? fallback : toInt(v, min, max);
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = raw.get(key);
    return v === undefined ? fallback : toBool(v);
  };
  const str = (key: string): string | undefined => {
    const v = raw.get(key);
    return v === undefined ? undefined : toStringValue(v, spec(key)?.values);
  };

  const id = toInt(required('id'), 1, 0xffff_ffff);
  const listenRaw = required('listen');
  const listen = parseHostPort(toStringValue(listenRaw), listenRaw.source);
  const peersRaw = required('peers');
  const peers = parsePeers(peersRaw.value, peersRaw.source);
  const dataDir = toStringValue(required('dataDir'));
  const join = bool('join', DEFAULTS.join);
  if (!join && !peers.has(id)) fail(`${peersRaw.source}: must include this node (id ${id}) unless --join is set`);
  if (peers.size === 0) fail(`${peersRaw.source}: no peers given`);
  const httpRaw = raw.get('http');
  const http = httpRaw === undefined ? null : parseHostPort(toStringValue(httpRaw), httpRaw.source);
  const peerListenRaw = raw.get('peerListen');
  const peerListen =
    peerListenRaw === undefined ? null : parseHostPort(toStringValue(peerListenRaw), peerListenRaw.source);
  const advertiseRaw = raw.get('advertise');
  // The client-facing address. With --peer-listen, --peers names peer addresses: the default is then
  // --listen (its wildcard host replaced by the host of this node's --peers entry).
  const ownPeerHost = peers.has(id) ? parseHostPort(peers.get(id) as string, 'peers').host : null;
  const advertiseAddress =
    advertiseRaw !== undefined
      ? formatHostPort(parseHostPort(toStringValue(advertiseRaw), advertiseRaw.source))
      : peerListen !== null
        ? formatHostPort({
            host: isUnspecifiedHost(listen.host) && ownPeerHost !== null ? ownPeerHost : listen.host,
            port: listen.port,
          })
        : (peers.get(id) ?? formatHostPort(listen));
  if (
    isUnspecifiedHost(parseHostPort(advertiseAddress, 'advertise').host) &&
    (advertiseRaw !== undefined || (join && !peers.has(id)))
  ) {
    fail(
      `${advertiseRaw?.source ?? '--advertise'}: ${advertiseAddress} is a wildcard bind address other nodes cannot reach; give --advertise HOST:PORT (a reachable host)`,
    );
  }
  if (join && !peers.has(id)) {
    const advertiseHost = parseHostPort(advertiseAddress, 'advertise').host;
    peers.set(
      id,
      peerListen === null
        ? advertiseAddress
        : formatHostPort({
            host: isUnspecifiedHost(peerListen.host) ? advertiseHost : peerListen.host,
            port: peerListen.port,
          }),
    );
  }

  const profile = (str('profile') ?? DEFAULTS.profile) as ProfileName;
  const base = PROFILES[profile];
  const heartbeatMs = int('heartbeatMs', base.heartbeatMs, 1, 60_000);
  const electionMs = int('electionMs', base.electionMs, 1, 600_000);
  const tickMs = int('tickMs', derivedTickMs(heartbeatMs), 1, 60_000);
  if (tickMs > heartbeatMs) fail(`tick (${tickMs} ms) must not exceed the heartbeat interval (${heartbeatMs} ms)`);
  const heartbeatTicks = Math.max(1, Math.round(heartbeatMs / tickMs));
  const electionTicks = Math.round(electionMs / tickMs);
  if (electionMs < 3 * heartbeatMs) {
    fail(`election timeout (${electionMs} ms) must be at least 3x the heartbeat interval (${heartbeatMs} ms)`);
  }
  if (electionTicks <= 2 * heartbeatTicks)
    fail(`election timeout must span more than two heartbeats in ticks (tick ${tickMs} ms)`);

  const snapshotEntries = int('snapshotEntries', DEFAULTS.snapshotEntries, 2);
  const logRetainEntries = int('logRetainEntries', derivedLogRetainEntries(snapshotEntries), 0);
  if (logRetainEntries >= snapshotEntries)
    fail(`--log-retain-entries (${logRetainEntries}) must be below --snapshot-entries (${snapshotEntries})`);

  const keyBytesMax = int('keyBytesMax', DEFAULTS.keyBytesMax, 1, 64 * 1024);
  const valueBytesMax = int('valueBytesMax', DEFAULTS.valueBytesMax, 0, 64 * 1024 * 1024);
  const batchBytesMax = int('batchBytesMax', DEFAULTS.batchBytesMax, 1, 256 * 1024 * 1024);
  const appendBytesMax = int('appendBytesMax', DEFAULTS.appendBytesMax, 1024);
  const uncommittedBytesMax = int('uncommittedBytesMax', DEFAULTS.uncommittedBytesMax, 1024);
  if (uncommittedBytesMax < batchBytesMax)
    fail(`--uncommitted-bytes-max (${uncommittedBytesMax}) must be at least --batch-bytes-max (${batchBytesMax})`);

  const requestTimeoutMs = int('requestTimeoutMs', DEFAULTS.requestTimeoutMs, 10);
  const sessionTtlMs = int('sessionTtlMs', DEFAULTS.sessionTtlMs, SESSION_TTL_MS_MIN);
  if (sessionTtlMs <= requestTimeoutMs) {
    fail(
      `--session-ttl-ms (${sessionTtlMs}) must exceed --request-timeout-ms (${requestTimeoutMs}): a session must outlive the retries of its writes`,
    );
  }

  const clusterToken = str('clusterToken') ?? null;
  const tls = tlsFiles(raw, 'tlsCert', 'tlsKey', 'tlsCa', false);
  const peerTls = tlsFiles(raw, 'peerTlsCert', 'peerTlsKey', 'peerTlsCa', true);
  if (peerTls !== null && peerListen === null) {
    fail(
      '--peer-tls-cert requires --peer-listen HOST:PORT: peer mutual TLS needs its own listener (clients do not hold node certificates); name the peer-listen addresses in --peers',
    );
  }

  return {
    id,
    listen,
    peerListen,
    clusterToken,
    tls,
    peerTls,
    advertiseAddress,
    peers,
    dataDir,
    http,
    join,
    profile,
    timing: { heartbeatMs, electionMs, tickMs, heartbeatTicks, electionTicks },
    limits: {
      keyBytesMax,
      valueBytesMax,
      batchOpsMax: int('batchOpsMax', DEFAULTS.batchOpsMax, 1, 100_000),
      batchBytesMax,
      scanItemsMax: int('scanItemsMax', DEFAULTS.scanItemsMax, 1),
      scanBytesMax: int('scanBytesMax', DEFAULTS.scanBytesMax, 1),
    },
    queues: {
      proposalsMax: int('proposalsMax', DEFAULTS.proposalsMax),
      readsMax: int('readsMax', DEFAULTS.readsMax),
      outboxMessagesMax: int('outboxMessagesMax', DEFAULTS.outboxMessagesMax),
    },
    raft: {
      preVote: bool('preVote', DEFAULTS.preVote),
      checkQuorum: bool('checkQuorum', DEFAULTS.checkQuorum),
      lazyCommit: bool('lazyCommit', DEFAULTS.lazyCommit),
      inflightMessagesMax: int('inflightMessagesMax', DEFAULTS.inflightMessagesMax),
      appendBytesMax,
      uncommittedBytesMax,
    },
    snapshotEntries,
    logRetainEntries,
    snapshotChunkBytes: int('snapshotChunkBytes', DEFAULTS.snapshotChunkBytes, 1024, 64 * 1024 * 1024),
    sessionsMax: int('sessionsMax', DEFAULTS.sessionsMax),
    sessionsNewPerClientPerSecond: int(
      'sessionsNewPerClientPerSecond',
      DEFAULTS.sessionsNewPerClientPerSecond,
      1,
      1_000_000,
    ),
    sessionTtlMs,
    requestTimeoutMs,
    unsafeStaleReads: bool('unsafeStaleReads', DEFAULTS.unsafeStaleReads),
    memoryBudgetBytes:
      int('memoryBudgetMib', DEFAULTS.memoryBudgetMib, MEMORY_BUDGET_MIB_MIN, MEMORY_BUDGET_MIB_MAX) * 1024 * 1024,
    logLevel: (str('logLevel') ?? DEFAULTS.logLevel) as LogLevel,
  };
}
