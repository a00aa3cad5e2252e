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
  SNAPSHOT_BYTES_MIN,
  derivedLogRetainEntries,
  derivedSnapshotBytes,
  derivedInflightBytesMax,
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

/** The address peers dial this node at: its own entry in --peers, else --peer-listen's, else the client address. */
export function peerAddressOf(config: Pick<NodeConfig, 'id' | 'peers' | 'peerListen' | 'advertiseAddress'>): string {
  if (config.peerListen === null) return config.advertiseAddress;
  return config.peers.get(config.id) ?? formatHostPort(config.peerListen);
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

/** Typed access to the raw options, each with its default and range. */
class OptionReader {
  constructor(readonly raw: RawConfig) {}

  required(key: string): RawValue {
    const v = this.raw.get(key);
    if (v === undefined) fail(`missing required option --${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`);
    return v;
  }

  int(key: string, fallback: number, min = 1, max?: number): number {
    const v = this.raw.get(key);
    return v === undefined ? fallback : toInt(v, min, max);
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw.get(key);
    return v === undefined ? fallback : toBool(v);
  }

  str(key: string): string | undefined {
    const v = this.raw.get(key);
    return v === undefined ? undefined : toStringValue(v, OPTIONS.find((o) => o.key === key)?.values);
  }
}

export function validateNodeConfig(raw: RawConfig): NodeConfig {
  const r = new OptionReader(raw);
  // In the order the checks ran before (the first failing one is reported).
  const where = addressesOf(r);
  const timing = timingOf(r);
  const log = logRetentionOf(r);
  const limits = limitsOf(r);
  const raftOptions = raftOptionsOf(r);
  const timeouts = timeoutsOf(r);
  const security = securityOf(r, where.peerListen);
  return {
    ...where,
    ...security,
    profile: (r.str('profile') ?? DEFAULTS.profile) as ProfileName,
    timing,
    limits,
    queues: {
      proposalsMax: r.int('proposalsMax', DEFAULTS.proposalsMax),
      readsMax: r.int('readsMax', DEFAULTS.readsMax),
      outboxMessagesMax: r.int('outboxMessagesMax', DEFAULTS.outboxMessagesMax),
    },
    raft: raftOptions,
    ...log,
    snapshotChunkBytes: r.int('snapshotChunkBytes', DEFAULTS.snapshotChunkBytes, 1024, 64 * 1024 * 1024),
    balanceLeaders: r.bool('balanceLeaders', DEFAULTS.balanceLeaders),
    placement: r.bool('placement', DEFAULTS.placement),
    replicas: r.int('replicas', DEFAULTS.replicas, 1, 7),
    deadNodeTimeoutMs: r.int('deadNodeTimeoutMs', DEFAULTS.deadNodeTimeoutMs, 1000, 7 * 24 * 3600 * 1000),
    placementIntervalMs: r.int('placementIntervalMs', DEFAULTS.placementIntervalMs, 50, 60_000),
    shutdownDrainMs: r.int('shutdownDrainMs', DEFAULTS.shutdownDrainMs, 0, 600_000),
    splitMaxKeys: r.int('splitMaxKeys', DEFAULTS.splitMaxKeys, 0),
    splitMaxBytes: r.int('splitMaxBytes', DEFAULTS.splitMaxBytes, 0),
    sessionsMax: r.int('sessionsMax', DEFAULTS.sessionsMax),
    sessionsNewPerClientPerSecond: r.int(
      'sessionsNewPerClientPerSecond',
      DEFAULTS.sessionsNewPerClientPerSecond,
      1,
      1_000_000,
    ),
    ...timeouts,
    unsafeStaleReads: r.bool('unsafeStaleReads', DEFAULTS.unsafeStaleReads),
    memoryBudgetBytes: memoryBudgetBytesOf(r),
    connectionsMax: r.int('connectionsMax', DEFAULTS.connectionsMax, 8, 1_000_000),
    logLevel: (r.str('logLevel') ?? DEFAULTS.logLevel) as LogLevel,
  };
}

/** The node's id, listeners, peers and the address it advertises. */
function addressesOf(r: OptionReader) {
  const id = toInt(r.required('id'), 1, 0xffff_ffff);
  const listenRaw = r.required('listen');
  const listen = parseHostPort(toStringValue(listenRaw), listenRaw.source);
  const peersRaw = r.required('peers');
  const peers = parsePeers(peersRaw.value, peersRaw.source);
  const dataDir = toStringValue(r.required('dataDir'));
  const join = r.bool('join', DEFAULTS.join);
  if (!join && !peers.has(id)) fail(`${peersRaw.source}: must include this node (id ${id}) unless --join is set`);
  if (peers.size === 0) fail(`${peersRaw.source}: no peers given`);
  const httpRaw = r.raw.get('http');
  const http = httpRaw === undefined ? null : parseHostPort(toStringValue(httpRaw), httpRaw.source);
  const peerListenRaw = r.raw.get('peerListen');
  const peerListen =
    peerListenRaw === undefined ? null : parseHostPort(toStringValue(peerListenRaw), peerListenRaw.source);
  const advertiseAddress = advertiseAddressOf(r, id, listen, peers, peerListen, join);
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
  return { id, listen, peerListen, advertiseAddress, peers, dataDir, http, join };
}

/**
 * The client-facing address. With --peer-listen, --peers names peer addresses: the default is then
 * --listen (its wildcard host replaced by the host of this node's --peers entry).
 */
function advertiseAddressOf(
  r: OptionReader,
  id: number,
  listen: HostPort,
  peers: Map<number, string>,
  peerListen: HostPort | null,
  join: boolean,
): string {
  const advertiseRaw = r.raw.get('advertise');
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
  return advertiseAddress;
}

/** Heartbeat, election and tick periods of the profile, overridden by flags; checked against each other. */
function timingOf(r: OptionReader): NodeConfig['timing'] {
  const base = PROFILES[(r.str('profile') ?? DEFAULTS.profile) as ProfileName];
  const heartbeatMs = r.int('heartbeatMs', base.heartbeatMs, 1, 60_000);
  const electionMs = r.int('electionMs', base.electionMs, 1, 600_000);
  const tickMs = r.int('tickMs', derivedTickMs(heartbeatMs), 1, 60_000);
  if (tickMs > heartbeatMs) fail(`tick (${tickMs} ms) must not exceed the heartbeat interval (${heartbeatMs} ms)`);
  const heartbeatTicks = Math.max(1, Math.round(heartbeatMs / tickMs));
  const electionTicks = Math.round(electionMs / tickMs);
  if (electionMs < 3 * heartbeatMs) {
    fail(`election timeout (${electionMs} ms) must be at least 3x the heartbeat interval (${heartbeatMs} ms)`);
  }
  if (electionTicks <= 2 * heartbeatTicks)
    fail(`election timeout must span more than two heartbeats in ticks (tick ${tickMs} ms)`);
  return { heartbeatMs, electionMs, tickMs, heartbeatTicks, electionTicks };
}

function memoryBudgetBytesOf(r: OptionReader): number {
  return r.int('memoryBudgetMib', DEFAULTS.memoryBudgetMib, MEMORY_BUDGET_MIB_MIN, MEMORY_BUDGET_MIB_MAX) * 1024 * 1024;
}

function logRetentionOf(r: OptionReader): { snapshotEntries: number; logRetainEntries: number; snapshotBytes: number } {
  const snapshotEntries = r.int('snapshotEntries', DEFAULTS.snapshotEntries, 2);
  const logRetainEntries = r.int('logRetainEntries', derivedLogRetainEntries(snapshotEntries), 0);
  if (logRetainEntries >= snapshotEntries)
    fail(`--log-retain-entries (${logRetainEntries}) must be below --snapshot-entries (${snapshotEntries})`);
  const budgetBytes = memoryBudgetBytesOf(r);
  const snapshotBytes = r.int('snapshotBytes', derivedSnapshotBytes(budgetBytes), SNAPSHOT_BYTES_MIN);
  if (snapshotBytes > budgetBytes / 2)
    fail(
      `--snapshot-bytes (${snapshotBytes}) must be at most half the memory budget (${budgetBytes} bytes): the log is part of the node's baseline`,
    );
  return { snapshotEntries, logRetainEntries, snapshotBytes };
}

function limitsOf(r: OptionReader): NodeConfig['limits'] {
  return {
    keyBytesMax: r.int('keyBytesMax', DEFAULTS.keyBytesMax, 1, 64 * 1024),
    valueBytesMax: r.int('valueBytesMax', DEFAULTS.valueBytesMax, 0, 64 * 1024 * 1024),
    batchOpsMax: r.int('batchOpsMax', DEFAULTS.batchOpsMax, 1, 100_000),
    batchBytesMax: batchBytesMaxOf(r),
    scanItemsMax: r.int('scanItemsMax', DEFAULTS.scanItemsMax, 1),
    scanBytesMax: r.int('scanBytesMax', DEFAULTS.scanBytesMax, 1),
  };
}

function batchBytesMaxOf(r: OptionReader): number {
  return r.int('batchBytesMax', DEFAULTS.batchBytesMax, 1, 256 * 1024 * 1024);
}

function raftOptionsOf(r: OptionReader): NodeConfig['raft'] {
  const batchBytesMax = batchBytesMaxOf(r);
  const uncommittedBytesMax = r.int('uncommittedBytesMax', DEFAULTS.uncommittedBytesMax, 1024);
  if (uncommittedBytesMax < batchBytesMax)
    fail(`--uncommitted-bytes-max (${uncommittedBytesMax}) must be at least --batch-bytes-max (${batchBytesMax})`);
  return {
    preVote: r.bool('preVote', DEFAULTS.preVote),
    checkQuorum: r.bool('checkQuorum', DEFAULTS.checkQuorum),
    lazyCommit: r.bool('lazyCommit', DEFAULTS.lazyCommit),
    inflightMessagesMax: r.int('inflightMessagesMax', DEFAULTS.inflightMessagesMax),
    inflightBytesMax: r.int('inflightBytesMax', derivedInflightBytesMax(memoryBudgetBytesOf(r)), 1024),
    appendBytesMax: r.int('appendBytesMax', DEFAULTS.appendBytesMax, 1024),
    uncommittedBytesMax,
  };
}

function timeoutsOf(r: OptionReader): { requestTimeoutMs: number; sessionTtlMs: number } {
  const requestTimeoutMs = r.int('requestTimeoutMs', DEFAULTS.requestTimeoutMs, 10);
  const sessionTtlMs = r.int('sessionTtlMs', DEFAULTS.sessionTtlMs, SESSION_TTL_MS_MIN);
  if (sessionTtlMs <= requestTimeoutMs) {
    fail(
      `--session-ttl-ms (${sessionTtlMs}) must exceed --request-timeout-ms (${requestTimeoutMs}): a session must outlive the retries of its writes`,
    );
  }
  return { requestTimeoutMs, sessionTtlMs };
}

function securityOf(r: OptionReader, peerListen: HostPort | null) {
  const clusterToken = r.str('clusterToken') ?? null;
  const tls = tlsFiles(r.raw, 'tlsCert', 'tlsKey', 'tlsCa', false);
  const peerTls = tlsFiles(r.raw, 'peerTlsCert', 'peerTlsKey', 'peerTlsCa', true);
  if (peerTls !== null && peerListen === null) {
    fail(
      '--peer-tls-cert requires --peer-listen HOST:PORT: peer mutual TLS needs its own listener (clients do not hold node certificates); name the peer-listen addresses in --peers',
    );
  }
  const authFile = r.str('authFile') ?? null;
  return { clusterToken, tls, peerTls, authFile };
}
