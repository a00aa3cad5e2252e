/**
 * What `npm start` (cmd/local-cluster.ts) prints when the first shard's leadership changes. Before the first
 * election there is simply no leader yet: it says it is waiting, once, rather than a "no leader" that reads
 * like an error; a leader lost later is reported as such, with the election under way.
 */
export function leaderLine(
  g: { leader: number; term: number },
  leaderSeen: boolean,
  address: (id: number) => string,
): string {
  if (g.leader !== 0) return `*** leader elected: node ${g.leader} (${address(g.leader)}), term ${g.term}`;
  if (!leaderSeen) return '*** waiting for the first leader election...';
  return `*** no leader since term ${g.term}: electing a new one...`;
}
