/**
 * One running Tessera node: NodeStore (LevelDB) + Transport + NodeHost + one gRPC server on --listen
 * (KV, Admin, and the Raft peer service unless --peer-listen gives peers their own server, with peer
 * mutual TLS when --peer-tls-* are set; its socket is the connection gate's, connection-gate.ts: the cap
 * on client connections) + the optional HTTP server (/metrics, /healthz).
 *
 * Start order: preflight (preflight.ts: the data dir is usable and every port can be bound, before anything
 * is written), open the store (verifies every record: CORRUPTION aborts the start), check and record the
 * node's identity (stored node id, cluster id and membership win over the flags; a contradiction is
 * CONFIG, exit 2), bind gRPC (the service handlers answer UNAVAILABLE until the host is open), open the
 * host, register in the cluster (--join on an empty data dir: join-cluster.ts; a refusal is CONFIG), serve,
 * start HTTP.
 * Stop order (graceful): report not serving (new requests get UNAVAILABLE), stop the host (pending
 * requests fail with a retryable UNAVAILABLE), close peer links, shut gRPC down (bounded by 2 s), close
 * LevelDB, stop HTTP.
 */
import * as grpc from '@grpc/grpc-js';
import { Random, TesseraError } from '../base';
import { formatHostPort, peerAddressOf, type NodeConfig } from '../config';
import { startPlacementDriver, type PlacementDriver } from '../placement';
import { NodeHost, type LeaderDrainResult } from '../node';
import {
  createNodeMetrics,
  shedAfterMsFor,
  startHttpServer,
  startNodeDashboard,
  startLoopMonitor,
  type HealthReport,
  type LoopMonitor,
  type Logger,
  type NodeMetrics,
  type ObsHttpServer,
} from '../obs';
import { NodeStore } from '../storage';
import { Transport, loadPeerTls, startPeerServer, type PeerServer, type PeerTlsMaterial } from '../transport';
import { adminServiceHandlers, TESSERA_VERSION } from './admin-service';
import { establishIdentity, preflightResources, type EstablishedIdentity } from './preflight';
import { registerJoiningNode } from './join-cluster';
import type { PlacementView, ViewSource } from './admin-nodes';
import { clientListenerCredentials } from './credentials';
import { ConnectionGate } from './connection-gate';
import { clientServerOptions } from './grpc-options';
import { responseBudgetInterceptor } from './response-budget';
import { admissionFor, kvServiceHandlers, type Admission } from './kv-service';
import { OpenPipelines } from './pipeline';
import { loadPublicServices } from './proto';
import { guardService } from './auth-guard';
import { authServiceHandlers } from './auth-service';
import { Authenticator, authFilePoller, loadAuthFile } from '../auth';
import { statSync } from 'node:fs';
import { leaderDrainOf } from './shutdown-drain';

export interface TesseraNodeOptions {
  config: NodeConfig;
  logger: Logger;
  metrics?: NodeMetrics;
  /** Seed of the node's randomness (election jitter, backoff); random by default. */
  seed?: number;
  /** Called once on an unrecoverable error after start (the process should exit non-zero). */
  onFatal?: (error: unknown) => void;
}

export interface TesseraNode {
  readonly config: NodeConfig;
  readonly host: NodeHost;
  readonly metrics: NodeMetrics;
  /** The bound gRPC port (differs from config when --listen used port 0). */
  readonly grpcPort: number;
  /** The bound port of the separate peer listener (--peer-listen); null when peers use the client port. */
  readonly peerPort: number | null;
  readonly httpPort: number | null;
  health(): HealthReport;
  /**
   * Before close() on a graceful stop: refuses new leaderships and moves every leadership off this node,
   * within budgetMs (shutdown-drain.ts). Never rejects; the result says what is left.
   */
  drainLeaders(budgetMs: number): Promise<LeaderDrainResult>;
  close(): Promise<void>;
}

export async function startTesseraNode(options: TesseraNodeOptions): Promise<TesseraNode> {
  const { config, logger } = options;
  const metrics = options.metrics ?? createNodeMetrics({ defaultMetrics: true });
  const random = new Random(options.seed ?? (Math.random() * 0xffff_ffff) >>> 0);
  const { clientCredentials, peerTls, store, established, auth } = await prepareNode(config, logger);
  /** The flags as the data dir allows them: with existing data, peers and join are the stored ones. */
  const runConfig = established.config;
  let host: NodeHost | null = null;
  let serving = false;
  let server: grpc.Server | null = null;
  let gate: ConnectionGate | null = null;
  let transport: Transport | null = null;
  let peerServer: PeerServer | null = null;
  try {
    transport = newTransport(config, established, peerTls, random, logger, metrics);
    const admission = nodeAdmission(config, metrics);
    ({ server, gate } = newClientServer(config, metrics, admission));
    // The Raft service lives on the peer listener when there is one, never on the client port then.
    if (config.peerListen === null) transport.registerOn(server);
    else peerServer = await startPeerServer(transport, formatHostPort(config.peerListen), peerTls);
    const current = (): NodeHost => {
      if (host === null || !serving) throw new TesseraError('UNAVAILABLE', 'the node is starting or stopping; retry');
      return host;
    };
    const pipelines = new OpenPipelines();
    let driver: PlacementDriver | null = null;
    const view = (): PlacementView | null => driver?.lastView() ?? null;
    addPublicServices(server, { current, config, metrics, pipelines, admission, logger, view, auth });
    const [grpcServer, openGate] = [server, gate];
    const grpcPort = await bindGrpc(openGate, grpcServer, config.listen, clientCredentials.credentials);
    const onFatal = fatalOnce(logger, options.onFatal, () => (serving = false));
    const { clusterId } = established.identity;
    const nodeLogger = logger.child({ component: 'node' });
    const hostOptions = { config: runConfig, clusterId, store, transport, logger: nodeLogger, metrics };
    host = await NodeHost.open({ ...hostOptions, random: random.fork(), onFatal });
    if (runConfig.join && !established.hasData) await joinCluster(runConfig, clusterId, transport, nodeLogger);
    serving = true;
    const openHost = host;
    // Stopping (the SIGTERM leader drain began): /healthz answers 503 so load balancers and readiness probes
    // send no new clients here, while calls already here are still served until the node closes.
    let stopping = false;
    const health = (): HealthReport => healthOf(config, openHost, serving, stopping);
    const { http, loopMonitor } = await startObservability(config, metrics, health, openHost);
    // The placement driver (acts only while this node leads the meta shard) balances leaders and replicas.
    const balancer = startPlacementDriver(openHost, transport, runConfig, logger, metrics);
    driver = balancer;
    logNodeStarted(logger, config, runConfig, {
      listen: `${config.listen.host}:${grpcPort}`,
      peerListen: config.peerListen ? `${config.peerListen.host}:${peerServer?.port}` : null,
      peerTls: peerTls !== null,
      clientTls: clientCredentials.mode,
      http: config.http ? `${config.http.host}:${http?.port}` : null,
      memoryBudgetBytes: admission.bounds.memoryBudgetBytes,
    });
    let closing: Promise<void> | null = null;
    const peerTransport = transport;
    const drainOfHost = leaderDrainOf(openHost, peerTransport, balancer, logger, runConfig.timing.electionMs);
    const openPeerServer = peerServer;
    return {
      config,
      host: openHost,
      metrics,
      grpcPort,
      peerPort: peerServer?.port ?? null,
      httpPort: http?.port ?? null,
      health,
      drainLeaders: (budgetMs: number) => {
        stopping = true;
        return drainOfHost(budgetMs);
      },
      close: () => {
        closing ??= stopNode({
          host: openHost,
          pipelines,
          transport: peerTransport,
          servers: [grpcServer, ...(openPeerServer ? [openPeerServer.server] : [])],
          gate: openGate,
          store,
          http,
          loopMonitor,
          balancer,
          logger,
          stopServing: () => {
            serving = false;
          },
        });
        return closing;
      },
    };
  } catch (e) {
    server?.forceShutdown();
    (gate as ConnectionGate | null)?.close();
    (peerServer as PeerServer | null)?.server.forceShutdown();
    transport?.close();
    await (host as NodeHost | null)?.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw e;
  }
}

/** The host's fatal-error handler: the first error stops serving, is logged and reaches `report`; later ones are ignored. */
function fatalOnce(logger: Logger, report: ((e: unknown) => void) | undefined, stopServing: () => void) {
  let fatalReported = false;
  return (e: unknown): void => {
    if (fatalReported) return;
    fatalReported = true;
    stopServing();
    logger.fatal(
      { err: e instanceof Error ? { message: e.message, stack: e.stack } : String(e) },
      'fatal error; the node stops',
    );
    report?.(e);
  };
}

/** The KV and Admin services on the client server, over the host of the moment. */
function addPublicServices(
  server: grpc.Server,
  p: {
    current: () => NodeHost;
    config: NodeConfig;
    metrics: NodeMetrics;
    pipelines: OpenPipelines;
    admission: Admission;
    logger: Logger;
    view: ViewSource;
    /** Access control (--auth-file); null: off. */
    auth: Authenticator | null;
  },
): void {
  const services = loadPublicServices();
  const auth = p.auth;
  // With an auth file, every method of the public services checks the caller's token first (auth-guard.ts).
  const guarded = (name: string, def: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) =>
    auth === null ? impl : guardService(name, def, impl, auth, (code) => p.metrics.authRefused.inc({ code }));
  const kv = kvServiceHandlers(p.current, p.config, p.metrics, p.pipelines, undefined, p.admission);
  server.addService(services.KV, guarded('KV', services.KV, kv));
  const logger = p.logger.child({ component: 'admin' });
  const admin = adminServiceHandlers(p.current, p.config, p.metrics, p.view, logger);
  server.addService(services.Admin, guarded('Admin', services.Admin, admin));
  server.addService(services.Auth, authServiceHandlers(auth, p.metrics, p.config.requestTimeoutMs));
}

/**
 * The node's Authenticator over the auth file (--auth-file), or null without one; the file is read and
 * validated now (CONFIG names it), and reloaded when it changes (a user added or changed takes effect
 * without a restart; an invalid change is logged and ignored).
 */
function authenticatorOf(config: NodeConfig, logger: Logger): Authenticator | null {
  const path = config.authFile;
  if (path === null) return null;
  let auth: Authenticator | null = null;
  const poll = authFilePoller(
    path,
    (file) => {
      auth?.replace(file);
      logger.info({ authFile: path, users: auth?.userCount }, 'auth file reloaded');
    },
    (err) => logger.error({ authFile: path, err }, 'the auth file changed but is invalid; keeping the last valid one'),
  );
  auth = new Authenticator(loadAuthFile(path), Date.now, undefined, poll);
  if ((statSync(path).mode & 0o077) !== 0)
    logger.warn(
      { authFile: path },
      'the auth file (password hashes, token secret) is readable by others: chmod 600 it',
    );
  if (config.tls === null)
    logger.warn(
      {},
      'access control without client TLS: passwords and tokens cross the network in the clear (--tls-cert)',
    );
  return auth;
}

/** How long a --join node tries to register itself before its start fails (join-cluster.ts). */
const JOIN_TIMEOUT_MS = 30_000;

/** --join on an empty data dir: registers the node in the meta shard through its --peers before serving. */
async function joinCluster(
  config: NodeConfig,
  clusterId: string | null,
  transport: Transport,
  logger: Logger,
): Promise<void> {
  await registerJoiningNode({
    self: config.id,
    clusterId,
    // Without a cluster id here peer TLS is on (preflight refuses a --join without both): ask over it.
    askClusterId: (to, timeoutMs) => transport.askClusterId(to, timeoutMs),
    address: config.advertiseAddress,
    peerAddress: config.peerListen === null ? null : peerAddressOf(config),
    peers: [...config.peers.keys()],
    forward: (to, command, timeoutMs) => transport.forwardMeta(to, command, timeoutMs),
    retryMs: Math.max(50, config.timing.electionMs / 2),
    timeoutMs: JOIN_TIMEOUT_MS,
    logger,
  });
}

/** What a started node stops, in order (stopNode). */
interface RunningParts {
  host: NodeHost;
  pipelines: OpenPipelines;
  transport: Transport;
  servers: grpc.Server[];
  gate: ConnectionGate;
  store: NodeStore;
  http: Awaited<ReturnType<typeof startObservability>>['http'];
  loopMonitor: { stop(): void };
  balancer: { stop(): void };
  logger: Logger;
  stopServing(): void;
}

/**
 * Fails in-flight proposals and reads with a retryable UNAVAILABLE, ends client pipelines and peer streams,
 * then stops gRPC: nothing holds the servers open, so tryShutdown completes at once. Then the store, HTTP.
 */
async function stopNode(p: RunningParts): Promise<void> {
  p.balancer.stop();
  p.stopServing();
  await p.host.close();
  // The failed requests' answers reach the client pipelines in this turn's callbacks; then end them.
  await new Promise<void>((resolve) => setImmediate(resolve));
  p.pipelines.endAll();
  p.transport.close();
  p.gate.stopAccepting();
  await Promise.all(p.servers.map(shutdownGrpc));
  p.gate.close();
  await p.store.close();
  await p.http?.close();
  p.loopMonitor.stop();
  p.logger.info({}, 'node stopped');
}

/**
 * Everything checked before the node runs: TLS files are read first (CONFIG names the flag), then, before
 * anything is written, the data dir and every port (exit 2, one line), then the store and the identity.
 */
async function prepareNode(config: NodeConfig, logger: Logger) {
  const clientCredentials = clientListenerCredentials(config);
  // With peer TLS files the peer listener requires client certificates.
  const peerTls = config.peerTls
    ? loadPeerTls({ cert: config.peerTls.cert, key: config.peerTls.key, ca: config.peerTls.ca ?? '' })
    : null;
  // The auth file is read and validated first: a bad one is CONFIG (exit 2) naming the file and field.
  const auth = authenticatorOf(config, logger);
  await preflightResources(config);
  const store = await openNodeStore(config.dataDir, config.memoryBudgetBytes);
  let established: EstablishedIdentity;
  try {
    established = await establishIdentity(store, config, logger);
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  return { clientCredentials, peerTls, store, established, auth };
}

/** What /healthz reports: serving (not while stopping), identity, and each group's leader, term and indexes. */
function healthOf(config: NodeConfig, host: NodeHost, serving: boolean, stopping: boolean): HealthReport {
  return {
    serving: serving && !stopping,
    ...(stopping ? { stopping: true } : {}),
    nodeId: config.id,
    address: config.advertiseAddress,
    version: TESSERA_VERSION,
    groups: host.groupIds().map((id) => {
      const s = host.groupStatus(id);
      return { groupId: id, leader: s.leader, role: s.role, term: s.term, commit: s.commit, applied: s.applied };
    }),
  };
}

function newTransport(
  config: NodeConfig,
  established: EstablishedIdentity,
  peerTls: PeerTlsMaterial | null,
  random: Random,
  logger: Logger,
  metrics: NodeMetrics,
): Transport {
  return new Transport({
    selfId: config.id,
    // The stored cluster id (preflight.ts); a --join node without one adopts its first peer's and stores it.
    clusterId: established.identity.clusterId,
    onClusterIdLearned: (clusterId) => {
      established
        .learnClusterId(clusterId)
        .catch((e: unknown) => logger.error({ err: (e as Error).message }, 'cannot store the learned cluster id'));
    },
    clientAddress: config.advertiseAddress,
    tls: peerTls,
    outboxMessagesMax: config.queues.outboxMessagesMax,
    random: random.fork(),
    logger: logger.child({ component: 'transport' }),
    metrics,
  });
}

/**
 * Binds the client listener through the connection gate (connection-gate.ts: the connection cap); a port
 * in use or a bad address is CONFIG naming the address.
 */
async function bindGrpc(
  gate: ConnectionGate,
  server: grpc.Server,
  listen: NodeConfig['listen'],
  credentials: grpc.ServerCredentials,
): Promise<number> {
  const host = listen.host.startsWith('[') ? listen.host.slice(1, -1) : listen.host;
  try {
    return await gate.listen(server, credentials, host, listen.port);
  } catch (err) {
    const address = formatHostPort(listen);
    throw new TesseraError('CONFIG', `cannot listen on ${address}: ${(err as Error).message}`, {}, { cause: err });
  }
}

function logNodeStarted(
  logger: Logger,
  config: NodeConfig,
  runConfig: NodeConfig,
  listeners: Record<string, unknown>,
): void {
  logger.info(
    {
      ...listeners,
      peers: Object.fromEntries(runConfig.peers),
      join: runConfig.join,
      dataDir: config.dataDir,
      timing: config.timing,
      unsafeStaleReads: config.unsafeStaleReads,
    },
    'node started',
  );
  if (config.unsafeStaleReads)
    logger.warn({}, 'UNSAFE: --unsafe-stale-reads serves linearizable reads locally without ReadIndex (testing only)');
}

/**
 * The client listener's gRPC server (not bound yet) and its connection gate: interceptors in order, the
 * gate's (peers recognized by their Raft call) then the unary response budget (response-budget.ts).
 */
function newClientServer(
  config: NodeConfig,
  metrics: NodeMetrics,
  admission: Admission,
): { server: grpc.Server; gate: ConnectionGate } {
  const responses = responseBudgetInterceptor(
    admission.budget,
    () => metrics.overloadRefused.inc({ reason: 'response' }),
    {
      connectionQueuedBytesMax: admission.bounds.callQueuedBytesMax,
      stallMs: config.requestTimeoutMs,
      onReset: (reason) => metrics.overloadRefused.inc({ reason }),
    },
  );
  const gate = new ConnectionGate({
    connectionsMax: config.connectionsMax,
    peersShare: config.peerListen === null,
    registry: metrics.registry,
  });
  const server = new grpc.Server(clientServerOptions(config, admission.bounds, [gate.interceptor(), responses]));
  return { server, gate };
}

/** The node's overload admission (memory-budget.ts), with its gauges wired to the metrics. */
function nodeAdmission(config: NodeConfig, metrics: NodeMetrics): Admission {
  const admission = admissionFor(config, metrics);
  metrics.memoryBudgetBytes.set(admission.bounds.memoryBudgetBytes);
  metrics.inflightBytesMax.set(admission.bounds.inflightBytesMax);
  metrics.inflightSource.bytes = () => admission.budget.bytesInUse;
  metrics.inflightSource.ops = () => admission.budget.opsInUse;
  return admission;
}

/** The HTTP server (when --http is set: /metrics, /healthz and the dashboard) and the event-loop monitor. */
async function startObservability(
  config: NodeConfig,
  metrics: NodeMetrics,
  health: () => HealthReport,
  host: NodeHost,
): Promise<{ http: ObsHttpServer | null; loopMonitor: LoopMonitor }> {
  const http = config.http
    ? await startHttpServer({
        host: config.http.host,
        port: config.http.port,
        registry: metrics.registry,
        health,
        onMetricsRender: () => metrics.metricsRenders.inc(),
        metricsShedAfterMs: shedAfterMsFor(config.timing),
        onMetricsShed: () => metrics.overloadRefused.inc({ reason: 'loop' }),
        // The dashboard at / (obs/dashboard): a peer unheard for an election timeout is shown down.
        dashboard: startNodeDashboard({
          host,
          metrics,
          selfAddress: config.advertiseAddress,
          downAfterMs: config.timing.electionMs,
        }),
      })
    : null;
  // Late ticks: half an election timeout late is enough for followers to start an election.
  const loopMonitor = startLoopMonitor(metrics, {
    tickMs: config.timing.tickMs,
    lateAfterMs: Math.max(config.timing.tickMs, config.timing.electionMs / 2),
  });
  return { http, loopMonitor };
}

/** Graceful gRPC shutdown, forced after 2 s. */
function shutdownGrpc(s: grpc.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      s.forceShutdown();
      resolve();
    }, 2000);
    s.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}

/** NodeStore.open, with a filesystem refusal (permissions, not a directory, read-only) as CONFIG naming the data dir. */
async function openNodeStore(dataDir: string, memoryBudgetBytes: number): Promise<NodeStore> {
  try {
    return await NodeStore.open(dataDir, memoryBudgetBytes);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException | null)?.code;
    if (typeof code === 'string' && ['EACCES', 'EPERM', 'ENOTDIR', 'EROFS', 'EEXIST', 'ENOSPC'].includes(code)) {
      throw new TesseraError(
        'CONFIG',
        `--data-dir ${dataDir}: cannot open the store (${code}: ${(e as Error).message})`,
        {},
        { cause: e },
      );
    }
    throw e;
  }
}
