/**
 * The client listener's TCP connections, owned by the node (grpc-js has no connection cap): a net.Server
 * accepts each socket, counts it, and hands it to grpc-js through Server.createConnectionInjector (TLS or
 * mutual TLS included: the injector's HTTP/2 server is a tls.Server for secure credentials, and a
 * tls.Server runs the handshake on the raw sockets it is handed).
 *
 * - At most connectionsMax client connections are open; a new one past it is closed at once (RST) and
 *   counted (`tessera_grpc_connections_refused_total{reason="cap"}`); the open ones keep working.
 * - A connection that has not sent the 24 bytes of an HTTP/2 preface (or a TLS hello) within
 *   handshakeTimeoutMs is closed (reason "handshake"): silent sockets do not hold slots.
 * - Raft peers: with --peer-listen they never arrive here. Without it they share this port; a connection
 *   that carries a Raft call (seen by `interceptor`) counts as a peer, not a client, up to peersMax.
 *   Past the client cap a new connection is not refused but put on probation (at most probationMax at
 *   once): it is closed unless its first call is a Raft call within probationMs (reason "probation"),
 *   so clients filling the cap cannot lock peers out. A client that keeps the probation slots full can
 *   delay peers that (re)connect: on hostile networks give peers their own --peer-listen.
 *
 * Invariants: every accepted socket is in exactly one of clients, peers, probation until it closes, and
 * leaves it at its 'close'; the counts never exceed their bounds; close() stops accepting and destroys
 * every socket still open.
 */
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Counter, Gauge, type Registry } from 'prom-client';

export type ConnectionKind = 'client' | 'peer' | 'probation';

export interface ConnectionGateOptions {
  connectionsMax: number;
  /** Raft peers share this listener (no --peer-listen): peer connections are recognized and let in. */
  peersShare: boolean;
  handshakeTimeoutMs?: number;
  probationMs?: number;
  probationMax?: number;
  peersMax?: number;
  registry?: Registry;
}

/** The bytes of the HTTP/2 client connection preface; a TLS ClientHello is longer. */
const PREFACE_BYTES = 24;
const RAFT_PATH_PREFIX = '/tessera.v1.Raft/';

interface Tracked {
  key: string;
  socket: net.Socket;
  kind: ConnectionKind;
  timers: NodeJS.Timeout[];
}

export class ConnectionGate {
  private readonly byKey = new Map<string, Tracked>();
  private readonly counts: Record<ConnectionKind, number> = { client: 0, peer: 0, probation: 0 };
  private readonly server: net.Server;
  private injector: grpc.ConnectionInjector | null = null;
  private readonly handshakeTimeoutMs: number;
  private readonly probationMs: number;
  private readonly probationMax: number;
  private readonly peersMax: number;
  private readonly open: Gauge<'kind'>;
  private readonly refused: Counter<'reason'>;

  constructor(private readonly options: ConnectionGateOptions) {
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.probationMs = options.probationMs ?? 5000;
    this.probationMax = options.probationMax ?? 32;
    this.peersMax = options.peersMax ?? 64;
    this.open = gauge(options.registry);
    this.refused = counter(options.registry);
    this.server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  /** Open connections of a kind. */
  count(kind: ConnectionKind): number {
    return this.counts[kind];
  }

  /** Listens on host:port (0: any free port) and injects accepted sockets into `server`; the bound port. */
  listen(server: grpc.Server, credentials: grpc.ServerCredentials, host: string, port: number): Promise<number> {
    this.injector = server.createConnectionInjector(credentials);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port, backlog: 511 }, () => {
        this.server.off('error', reject);
        this.server.on('error', () => undefined); // accept errors (EMFILE) are transient
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  /**
   * A grpc-js server interceptor: a Raft call marks its connection as a peer's (out of the client cap);
   * any other first call on a connection on probation closes it.
   */
  interceptor(): grpc.ServerInterceptor {
    return (method, call) => {
      if (this.options.peersShare) this.classify(method.path, call);
      return new grpc.ServerInterceptingCall(call);
    };
  }

  /** Stops accepting connections (the open ones go on). Idempotent. */
  stopAccepting(): void {
    if (this.server.listening) this.server.close();
  }

  /** Stops accepting and destroys every open socket. */
  close(): void {
    this.stopAccepting();
    for (const t of [...this.byKey.values()]) t.socket.resetAndDestroy();
    this.injector?.destroy();
  }

  private classify(path: string, call: grpc.ServerInterceptingCallInterface): void {
    const info = call.getConnectionInfo();
    const t = this.byKey.get(`${info.remoteAddress}:${info.remotePort}`);
    if (t === undefined || t.kind === 'peer') return;
    if (path.startsWith(RAFT_PATH_PREFIX) && this.counts.peer < this.peersMax) this.move(t, 'peer');
    else if (t.kind === 'probation') this.refuse(t, 'probation');
  }

  private accept(socket: net.Socket): void {
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    let kind: ConnectionKind;
    if (this.counts.client < this.options.connectionsMax) kind = 'client';
    else if (this.options.peersShare && this.counts.probation < this.probationMax) kind = 'probation';
    else {
      this.refused.inc({ reason: 'cap' });
      socket.resetAndDestroy();
      return;
    }
    const t: Tracked = { key, socket, kind, timers: [] };
    this.byKey.set(key, t);
    this.counts[kind]++;
    this.open.inc({ kind });
    socket.on('error', () => undefined);
    socket.once('close', () => this.forget(t));
    this.arm(t, this.handshakeTimeoutMs, () => socket.bytesRead < PREFACE_BYTES, 'handshake');
    if (kind === 'probation') this.arm(t, this.probationMs, () => t.kind === 'probation', 'probation');
    this.injector?.injectConnection(socket);
  }

  /** After ms, closes the connection if `still()`. */
  private arm(t: Tracked, ms: number, still: () => boolean, reason: string): void {
    const timer = setTimeout(() => {
      if (still()) this.refuse(t, reason);
    }, ms);
    timer.unref();
    t.timers.push(timer);
  }

  /** Closes a connection (RST). destroy() would not: once grpc-js's HTTP/2 session owns the socket's handle. */
  private refuse(t: Tracked, reason: string): void {
    this.refused.inc({ reason });
    t.socket.resetAndDestroy();
    this.forget(t); // its 'close' may come late (or not at all once HTTP/2 owns the handle)
  }

  private move(t: Tracked, kind: ConnectionKind): void {
    this.open.dec({ kind: t.kind });
    this.counts[t.kind]--;
    t.kind = kind;
    this.counts[kind]++;
    this.open.inc({ kind });
  }

  private forget(t: Tracked): void {
    if (this.byKey.get(t.key) !== t) return;
    this.byKey.delete(t.key);
    for (const timer of t.timers) clearTimeout(timer);
    this.counts[t.kind]--;
    this.open.dec({ kind: t.kind });
  }
}

/** The metric `name` of the registry, made by `make` unless the registry already has it (one per node). */
function registered<M>(registry: Registry | undefined, name: string, make: (registers: Registry[]) => M): M {
  return (registry?.getSingleMetric(name) as M | undefined) ?? make(registry ? [registry] : []);
}

const gauge = (registry: Registry | undefined): Gauge<'kind'> =>
  registered(registry, 'tessera_grpc_connections', (registers) => {
    const help = 'Open connections on the client gRPC listener, by kind (client, peer, probation)';
    return new Gauge({ name: 'tessera_grpc_connections', help, labelNames: ['kind'], registers });
  });

const counter = (registry: Registry | undefined): Counter<'reason'> =>
  registered(registry, 'tessera_grpc_connections_refused_total', (registers) => {
    const help =
      'Connections the client gRPC listener closed: past the cap, silent past the handshake timeout, or on probation without a Raft call';
    return new Counter({ name: 'tessera_grpc_connections_refused_total', help, labelNames: ['reason'], registers });
  });
