/**
 * The fault state of one proxied TCP link (a directed link i->j: the proxy that i dials to reach j).
 * `forward` is the dialer-to-target byte direction, `backward` the target-to-dialer direction.
 *
 * - refuse: new connections are reset at once and existing ones are severed (a cut).
 * - held:   bytes in that direction are not read from the source socket, so they are never delivered
 *           while held (TCP back-pressure blocks the sender, like a blackhole that drops every segment).
 *           Bytes already accepted are delivered if the direction is released before the connection dies.
 * - delayMs: every chunk is delivered delayMs after it arrived, in order.
 */
export interface DirectionState {
  held: boolean;
  delayMs: number;
}

export interface LinkState {
  refuse: boolean;
  forward: DirectionState;
  backward: DirectionState;
}

export function healthyLinkState(): LinkState {
  return { refuse: false, forward: { held: false, delayMs: 0 }, backward: { held: false, delayMs: 0 } };
}

export function sameLinkState(a: LinkState, b: LinkState): boolean {
  return (
    a.refuse === b.refuse &&
    a.forward.held === b.forward.held &&
    a.forward.delayMs === b.forward.delayMs &&
    a.backward.held === b.backward.held &&
    a.backward.delayMs === b.backward.delayMs
  );
}

export function describeLinkState(s: LinkState): string {
  if (s.refuse) return 'cut';
  const dir = (d: DirectionState): string => (d.held ? 'held' : d.delayMs > 0 ? `+${d.delayMs}ms` : 'ok');
  return `fwd:${dir(s.forward)} bwd:${dir(s.backward)}`;
}
