/**
 * A cap on the HTTP server's open connections that never locks out a new scrape or health check: when a
 * new connection arrives at the cap, the least recently used idle connection (no request in progress) is
 * closed to make room; only when every connection is busy is the new one refused (closed at once).
 * Idle connections (keep-alive with nothing to do, or opened and silent) are also closed by the server's
 * timeouts (http-server.ts); this cap bounds them in between.
 *
 * Invariant: `open` holds exactly the sockets not yet closed, in least-recently-active-first order.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

interface ConnectionState {
  requests: number;
}

export interface HttpConnectionStats {
  open: number;
  evicted: number;
  refused: number;
}

export function capConnections(server: Server, connectionsMax: number): () => HttpConnectionStats {
  const open = new Map<Socket, ConnectionState>();
  let evicted = 0;
  let refused = 0;
  server.on('connection', (socket: Socket) => {
    if (open.size >= connectionsMax && !evictIdle()) {
      refused++;
      socket.destroy();
      return;
    }
    open.set(socket, { requests: 0 });
    socket.once('close', () => open.delete(socket));
  });
  server.on('request', (req, res) => {
    const socket = req.socket;
    const state = open.get(socket);
    if (state === undefined) return;
    state.requests++;
    // Most recently active last: re-insert.
    open.delete(socket);
    open.set(socket, state);
    res.once('close', () => {
      state.requests = Math.max(0, state.requests - 1);
    });
  });
  const evictIdle = (): boolean => {
    for (const [socket, state] of open) {
      if (state.requests === 0) {
        open.delete(socket);
        socket.destroy();
        evicted++;
        return true;
      }
    }
    return false;
  };
  return () => ({ open: open.size, evicted, refused });
}
