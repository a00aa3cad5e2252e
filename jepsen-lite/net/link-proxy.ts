/**
 * LinkProxy: a TCP proxy for one directed link (listen address -> target address) whose behaviour is a
 * LinkState that the nemesis changes at run time: cut (reset new connections, sever existing ones),
 * hold one or both directions (blackhole), or delay them. Nothing on either side knows it is there.
 *
 * Invariants: while `refuse` is set no connection is open; every accepted connection is tracked until
 * both its sockets are closed; close() releases the port and every socket.
 */
import net from 'node:net';
import { Pipe } from './pipe';
import { healthyLinkState, type LinkState } from './link-state';

interface Conn {
  client: net.Socket;
  upstream: net.Socket;
  pipes: Pipe[];
}

export interface LinkProxyOptions {
  name: string;
  listenHost: string;
  listenPort: number;
  targetHost: string;
  targetPort: number;
}

export class LinkProxy {
  readonly name: string;
  private state: LinkState = healthyLinkState();
  private readonly conns = new Set<Conn>();
  private readonly server: net.Server;
  private acceptedCount = 0;

  constructor(private readonly opts: LinkProxyOptions) {
    this.name = opts.name;
    this.server = net.createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
  }

  get address(): string {
    return `${this.opts.listenHost}:${this.opts.listenPort}`;
  }

  get target(): string {
    return `${this.opts.targetHost}:${this.opts.targetPort}`;
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** Connections accepted since start (refused ones excluded). */
  get accepted(): number {
    return this.acceptedCount;
  }

  getState(): LinkState {
    return structuredClone(this.state);
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.server.once('error', onError);
      this.server.listen(this.opts.listenPort, this.opts.listenHost, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        if (addr && typeof addr === 'object') this.opts.listenPort = addr.port;
        resolve();
      });
    });
  }

  setState(next: LinkState): void {
    this.state = structuredClone(next);
    if (this.state.refuse) this.severAll();
    for (const c of this.conns) for (const p of c.pipes) p.update();
  }

  /** Closes every open connection (a reset on both sides) without changing the state. */
  severAll(): void {
    for (const c of [...this.conns]) this.destroyConn(c);
  }

  close(): Promise<void> {
    this.severAll();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.state.refuse) {
      client.resetAndDestroy();
      return;
    }
    this.acceptedCount++;
    client.setNoDelay(true);
    const upstream = net.connect({ host: this.opts.targetHost, port: this.opts.targetPort });
    upstream.setNoDelay(true);
    upstream.pause();
    const conn: Conn = { client, upstream, pipes: [] };
    this.conns.add(conn);
    const onClose = (): void => this.destroyConn(conn);
    client.on('error', onClose);
    client.on('close', onClose);
    upstream.on('error', onClose);
    upstream.on('close', onClose);
    upstream.once('connect', () => {
      if (!this.conns.has(conn)) return;
      conn.pipes.push(new Pipe(client, upstream, () => this.state.forward));
      conn.pipes.push(new Pipe(upstream, client, () => this.state.backward));
      for (const p of conn.pipes) p.update();
    });
  }

  private destroyConn(conn: Conn): void {
    if (!this.conns.delete(conn)) return;
    for (const p of conn.pipes) p.close();
    if (!conn.client.destroyed) conn.client.resetAndDestroy();
    if (!conn.upstream.destroyed) conn.upstream.resetAndDestroy();
  }
}
