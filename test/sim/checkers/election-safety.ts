/**
 * Election safety, checked on every role change and every vote sent:
 *  - at most one leader per term (Raft figure 3, Election Safety);
 *  - a node grants at most one vote per term (what makes election safety hold; a second vote in the
 *    same term means a vote was released before it was durable, or durable state was lost).
 */
import { SimFailure } from '../sim-failure';

export class ElectionSafetyChecker {
  private readonly leaderOfTerm = new Map<number, number>();
  /** `${voter}:${term}` -> candidate */
  private readonly voteOf = new Map<string, number>();

  onLeader(nodeId: number, term: number): void {
    const existing = this.leaderOfTerm.get(term);
    if (existing !== undefined && existing !== nodeId) {
      throw new SimFailure('election-safety', `two leaders in term ${term}: nodes ${existing} and ${nodeId}`);
    }
    this.leaderOfTerm.set(term, nodeId);
  }

  onVoteGranted(voter: number, candidate: number, term: number): void {
    const key = `${voter}:${term}`;
    const existing = this.voteOf.get(key);
    if (existing !== undefined && existing !== candidate) {
      throw new SimFailure(
        'election-safety',
        `node ${voter} voted twice in term ${term}: for ${existing} and for ${candidate}`,
      );
    }
    this.voteOf.set(key, candidate);
  }

  leaders(): number {
    return this.leaderOfTerm.size;
  }
}
