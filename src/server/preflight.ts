/**
 * What a node checks before it writes anything (DESIGN.md section 9b), so a bad start is exit 2 with one
 * clear line, within seconds, and leaves the data dir as it was:
 *
 *   1. resources, before the store opens: the data dir is a writable directory (or can be created in a
 *      writable one) on a real filesystem (not under /proc, /sys or /dev); the gRPC, --peer-listen and
 *      --http ports can be bound. Every filesystem and socket probe is bounded by a timeout (a path
 *      under a kernel filesystem can make mkdir hang forever).
 *   2. identity, once the store is open and before anything runs or is written: the stored node id must
 *      equal --id, the stored cluster id must match --cluster-token's, and a data dir that holds group
 *      data refuses a --peers that contradicts its stored membership (--peers only bootstraps; with
 *      --join and data, --peers is ignored). A node without an identity record writes one: at bootstrap,
 *      or on the first start of a data dir written by an older version.
 *
 * Every refusal is TesseraError('CONFIG') whose message is the one line to print (cmd/start.ts: exit 2).
 */
import { constants } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { dirname, join, resolve, sep } from 'node:path';
import { TesseraError, type NodeId } from '../base';
import { formatHostPort, type HostPort, type NodeConfig } from '../config';
import { WHOLE_KEYSPACE_GROUP, peersContradiction, readStoredMembership } from '../node';
import type { Logger } from '../obs';
import { deriveClusterId, loadIdentity, saveIdentity, type NodeIdentity, type NodeStore } from '../storage';

/** Bound of one filesystem or socket probe. */
export const PROBE_TIMEOUT_MS = 3000;

const KERNEL_FILESYSTEMS = ['/proc', '/sys', '/dev'];

function refuse(message: string): never {
  throw new TesseraError('CONFIG', message);
}

/** `promise`, or a CONFIG refusal naming `what` once timeoutMs passed (the probe itself may never end). */
export function bounded<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const timer = setTimeout(
      () => reject(new TesseraError('CONFIG', `${what} did not finish within ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref();
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolvePromise(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

function kernelFilesystemOf(path: string): string | null {
  for (const k of KERNEL_FILESYSTEMS) if (path === k || path.startsWith(k + sep)) return k;
  return null;
}

function errorCode(e: unknown): string {
  return (e as NodeJS.ErrnoException | null)?.code ?? (e as Error | null)?.message ?? String(e);
}

/**
 * The data dir can hold a node's LevelDB: it is a writable directory, or the nearest existing ancestor is
 * a writable directory it can be created in; nothing under /proc, /sys or /dev. Creates nothing.
 */
export async function checkDataDir(dataDir: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<void> {
  const flag = `--data-dir ${dataDir}`;
  const absolute = resolve(dataDir);
  const kernel = kernelFilesystemOf(absolute);
  if (kernel !== null)
    refuse(`${flag}: ${absolute} is under ${kernel}, a kernel filesystem, not storage; choose a directory on a disk`);
  const probe = <T>(p: Promise<T>, what: string) => bounded(p, timeoutMs, `${flag}: ${what}`);
  // The nearest existing path: the data dir itself or an ancestor it would be created in.
  let existing = absolute;
  for (;;) {
    try {
      const s = await probe(stat(existing), `stat ${existing}`);
      if (!s.isDirectory()) {
        if (existing === absolute) refuse(`${flag}: ${absolute} exists and is not a directory`);
        refuse(
          `${flag}: cannot create ${absolute}: ${existing} is a ${s.isFile() ? 'regular file' : 'non-directory'}, not a directory`,
        );
      }
      break;
    } catch (e) {
      if (e instanceof TesseraError) throw e;
      const code = errorCode(e);
      if (code === 'ENOENT' && dirname(existing) !== existing) {
        existing = dirname(existing);
        continue;
      }
      if (code === 'ENOTDIR')
        refuse(
          `${flag}: cannot create ${absolute}: a path component above ${existing} is a regular file, not a directory`,
        );
      refuse(`${flag}: cannot access ${existing} (${code})`);
    }
  }
  const real = await probe(realpath(existing), `realpath ${existing}`).catch((e: unknown) => {
    if (e instanceof TesseraError) throw e;
    return refuse(`${flag}: cannot resolve ${existing} (${errorCode(e)})`);
  });
  const realKernel = kernelFilesystemOf(real);
  if (realKernel !== null)
    refuse(`${flag}: ${existing} resolves to ${real} under ${realKernel}, a kernel filesystem, not storage`);
  const writable = async (dir: string, what: string): Promise<void> => {
    try {
      await probe(access(dir, constants.W_OK | constants.X_OK), `access ${dir}`);
    } catch (e) {
      if (e instanceof TesseraError) throw e;
      refuse(
        `${flag}: ${what} ${dir} is not writable by this process (uid ${process.getuid?.() ?? '?'}: ${errorCode(e)})`,
      );
    }
  };
  if (existing !== absolute) {
    await writable(existing, `cannot create the data dir: its parent`);
    return;
  }
  await writable(absolute, 'the data dir');
  // An existing LevelDB inside must be writable too (a copy made by another user, or a read-only mount).
  const db = join(absolute, 'db');
  const dbStat = await probe(stat(db), `stat ${db}`).catch((e: unknown) => {
    if (e instanceof TesseraError) throw e;
    if (errorCode(e) === 'ENOENT') return null;
    return refuse(`${flag}: cannot access ${db} (${errorCode(e)})`);
  });
  if (dbStat === null) return;
  if (!dbStat.isDirectory()) refuse(`${flag}: ${db} exists and is not a directory (the node keeps its LevelDB there)`);
  await writable(db, 'the LevelDB directory');
}

export interface PortToProbe {
  /** The flag that set it, e.g. "--http". */
  flag: string;
  address: HostPort;
}

function listenOnce(address: HostPort): Promise<Server> {
  const host = address.host.startsWith('[') && address.host.endsWith(']') ? address.host.slice(1, -1) : address.host;
  return new Promise<Server>((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port: address.port, exclusive: true }, () => {
      server.off('error', reject);
      resolvePromise(server);
    });
  });
}

/**
 * Binds every port at once (so two flags naming the same port are caught too), then releases them.
 * Port 0 needs no probe. A port that cannot be bound is refused naming the flag and the address.
 */
export async function checkPorts(ports: readonly PortToProbe[], timeoutMs = PROBE_TIMEOUT_MS): Promise<void> {
  const held: Server[] = [];
  try {
    for (const p of ports) {
      if (p.address.port === 0) continue;
      const where = `${p.flag} ${formatHostPort(p.address)}`;
      try {
        held.push(await bounded(listenOnce(p.address), timeoutMs, `${where}: binding`));
      } catch (e) {
        if (e instanceof TesseraError) throw e;
        const code = errorCode(e);
        const why =
          code === 'EADDRINUSE'
            ? "the address is in use (another process, or another of this node's flags, listens there)"
            : code === 'EACCES'
              ? 'permission denied (ports below 1024 need privileges)'
              : code === 'EADDRNOTAVAIL'
                ? 'this host has no such address'
                : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
                  ? 'the host name does not resolve'
                  : code;
        refuse(`${where}: cannot listen: ${why}`);
      }
    }
  } finally {
    await Promise.all(held.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** Step 1: resources, before the store opens. Writes nothing. */
export async function preflightResources(config: NodeConfig): Promise<void> {
  await checkDataDir(config.dataDir);
  const ports: PortToProbe[] = [{ flag: '--listen', address: config.listen }];
  if (config.peerListen !== null) ports.push({ flag: '--peer-listen', address: config.peerListen });
  if (config.http !== null) ports.push({ flag: '--http', address: config.http });
  await checkPorts(ports);
}

/** A cluster id as shown in messages: a prefix (the id is the peers' credential without mTLS). */
export function shortClusterId(id: string | null): string {
  return id === null ? '(not learned yet)' : `${id.slice(0, 8)}...`;
}

export interface EstablishedIdentity {
  identity: NodeIdentity;
  /**
   * The configuration to run with: with existing data, peers and join are what the node bootstrapped
   * with (its stored identity), whatever --peers and --join say now; otherwise `config` itself.
   */
  config: NodeConfig;
  /** Stores a cluster id learned from the first authenticated peer (a --join node without a token). */
  learnClusterId(clusterId: string): Promise<void>;
  /** The data dir held group data at start (false: a new node; a --join node registers itself then). */
  hasData: boolean;
}

function sortedPeers(peers: ReadonlyMap<NodeId, string>): [NodeId, string][] {
  return [...peers.entries()].sort((a, b) => a[0] - b[0]);
}

/** Step 2: identity, after the store opened, before anything runs. Writes only the identity record. */
export async function establishIdentity(
  store: NodeStore,
  config: NodeConfig,
  logger: Logger,
): Promise<EstablishedIdentity> {
  const stored = await loadIdentity(store.db);
  const hasData = (await store.listGroups()).length > 0 || (await store.loadGroup(WHOLE_KEYSPACE_GROUP)) !== null;
  const tokenClusterId = config.clusterToken === null ? null : deriveClusterId(config.clusterToken, new Map());
  const facts: IdentityFacts = { store, config, logger, stored, hasData, tokenClusterId };
  checkStoredIdentity(facts);
  if (hasData) await checkPeersAgainstData(facts);
  const identity =
    stored !== null && hasData ? await completeStoredIdentity(facts, stored) : await recordNewIdentity(facts);
  // With data, the node runs with what it bootstrapped with, not with what the flags say now.
  let effective = config;
  if (hasData && stored !== null) {
    effective =
      stored.bootstrapPeers.length > 0
        ? { ...config, join: false, peers: new Map(stored.bootstrapPeers) }
        : { ...config, join: true };
  }
  let current = identity;
  return {
    identity,
    hasData,
    config: effective,
    learnClusterId: async (clusterId: string) => {
      if (current.clusterId !== null) return;
      current = { ...current, clusterId };
      await saveIdentity(store.db, current);
      logger.info(
        { clusterId: shortClusterId(clusterId) },
        'cluster id learned from the first authenticated peer and stored',
      );
    },
  };
}

/** What establishIdentity found before deciding. */
interface IdentityFacts {
  store: NodeStore;
  config: NodeConfig;
  logger: Logger;
  stored: NodeIdentity | null;
  hasData: boolean;
  tokenClusterId: string | null;
}

const whereOf = (config: NodeConfig): string => `data dir ${config.dataDir}`;

/** The stored identity must name this node and, with a token, this cluster. */
function checkStoredIdentity({ config, stored, tokenClusterId }: IdentityFacts): void {
  if (stored === null) return;
  const where = whereOf(config);
  if (stored.nodeId !== config.id)
    refuse(
      `${where} holds node ${stored.nodeId}'s data, but --id is ${config.id}; start node ${stored.nodeId} on it, or give node ${config.id} its own data dir`,
    );
  if (tokenClusterId !== null && stored.clusterId !== null && stored.clusterId !== tokenClusterId) {
    refuse(
      `${where} belongs to cluster ${shortClusterId(stored.clusterId)}, but --cluster-token names cluster ${shortClusterId(tokenClusterId)}; this data dir is another cluster's`,
    );
  }
}

/** With data, --peers may not contradict the stored membership (a wrong --peers made a second leader). */
async function checkPeersAgainstData({ store, config, logger, stored }: IdentityFacts): Promise<void> {
  if (config.join) {
    logger.info(
      { dataDir: config.dataDir },
      '--join with existing data: --peers is ignored, the node uses its stored membership',
    );
    return;
  }
  const bootstrapPeers = stored?.bootstrapPeers ?? null;
  const membership = await readStoredMembership(store, WHOLE_KEYSPACE_GROUP, bootstrapPeers);
  const contradiction = membership === null ? null : peersContradiction(config.peers, membership, bootstrapPeers);
  if (contradiction !== null) {
    refuse(
      `${whereOf(config)}: ${contradiction}; --peers only bootstraps a new node: restart with the original --peers or the current membership`,
    );
  }
}

/** A node with data and an identity keeps it; a cluster id missing from it is taken from --cluster-token. */
async function completeStoredIdentity(
  { store, logger, tokenClusterId }: IdentityFacts,
  stored: NodeIdentity,
): Promise<NodeIdentity> {
  if (stored.clusterId !== null || tokenClusterId === null) return stored;
  const identity = { ...stored, clusterId: tokenClusterId };
  await saveIdentity(store.db, identity);
  logger.info({ clusterId: shortClusterId(identity.clusterId) }, 'cluster id recorded from --cluster-token');
  return identity;
}

/**
 * Bootstrap (an empty data dir, or one with an identity but no group data yet), or a data dir written by
 * an older version: the identity comes from the current flags.
 */
async function recordNewIdentity({
  store,
  config,
  logger,
  stored,
  hasData,
  tokenClusterId,
}: IdentityFacts): Promise<NodeIdentity> {
  const derivedFromPeers = !config.join && tokenClusterId === null;
  const identity: NodeIdentity = {
    nodeId: config.id,
    clusterId: tokenClusterId ?? (config.join ? (stored?.clusterId ?? null) : deriveClusterId(null, config.peers)),
    bootstrapPeers: config.join ? [] : sortedPeers(config.peers),
  };
  if (identity.clusterId === null && config.peerTls === null) {
    // Peers never send the cluster id in clear without TLS (transport/handshake.ts), so there is nothing to learn it from.
    refuse(
      `${whereOf(config)}: a node joining without peer mutual TLS needs the cluster's --cluster-token (peers prove the cluster id, they never send it in clear)`,
    );
  }
  const same = stored !== null && JSON.stringify(stored) === JSON.stringify(identity);
  if (!same) await saveIdentity(store.db, identity);
  if (derivedFromPeers) {
    logger.warn(
      {},
      'cluster id derived from --peers: anyone who knows the member addresses can guess it; set --cluster-token SECRET on every member',
    );
  }
  const clusterId = shortClusterId(identity.clusterId);
  if (hasData) {
    logger.info(
      { dataDir: config.dataDir, clusterId },
      'data dir written by an older version: identity recorded from the current flags',
    );
  } else if (!same) {
    logger.info({ dataDir: config.dataDir, clusterId, join: config.join }, 'identity recorded');
  }
  return identity;
}
