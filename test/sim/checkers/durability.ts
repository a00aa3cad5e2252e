/**
 * Durability rules, checked at every fsync and every message sent:
 *  - term, vote and commit never regress in a node's durable hard state (across crashes too);
 *  - a granted vote is sent only when the vote (and its term) is durable;
 *  - an accepting append response for index i is sent only when the log up to i is durable
 *    (votes and acks after fsync: Raft thesis 3.8).
 * The checker keeps its own copy of each node's last durable hard state, independent of the disk.
 */
import type { HardState, Message } from '../../../src/raft';
import type { SimDisk } from '../disk';
import { SimFailure } from '../sim-failure';

export class DurabilityChecker {
  private readonly lastDurable = new Map<number, HardState>();

  onSynced(nodeId: number, disk: SimDisk): void {
    const now = disk.hardState();
    const prev = this.lastDurable.get(nodeId);
    if (prev) {
      const what = `node ${nodeId} durable hard state ${fmt(prev)} -> ${fmt(now)}`;
      if (now.term < prev.term) throw new SimFailure('durability', `term regressed: ${what}`);
      if (now.term === prev.term && prev.vote !== 0 && now.vote !== prev.vote) {
        throw new SimFailure('durability', `vote changed within a term: ${what}`);
      }
      if (now.commit < prev.commit) throw new SimFailure('durability', `commit regressed: ${what}`);
    }
    this.lastDurable.set(nodeId, { ...now });
  }

  /**
   * The replica was destroyed: its tombstone keeps term and vote (checked as usual), and its commit starts
   * again from 0 (the log it committed is gone with it; a snapshot brings the group's state back).
   */
  onDestroyed(nodeId: number, disk: SimDisk): void {
    const now = disk.hardState();
    const prev = this.lastDurable.get(nodeId);
    if (prev && (now.term !== prev.term || now.vote !== prev.vote) && now.term <= prev.term) {
      throw new SimFailure('durability', `node ${nodeId} tombstone ${fmt(now)} lost the term or vote of ${fmt(prev)}`);
    }
    this.lastDurable.set(nodeId, { ...now });
  }

  /** After a crash: what the disk kept must not be older than what the checker saw synced. */
  onRecovered(nodeId: number, disk: SimDisk): void {
    this.onSynced(nodeId, disk);
  }

  onSend(message: Message, disk: SimDisk): void {
    if (message.type === 'voteResp' && !message.reject) {
      const hs = disk.hardState();
      if (hs.term < message.term || (hs.term === message.term && hs.vote !== message.to)) {
        throw new SimFailure(
          'durability',
          `node ${message.from} granted its vote to ${message.to} in term ${message.term} before it was durable (durable ${fmt(hs)})`,
        );
      }
    } else if (message.type === 'appendResp' && !message.reject) {
      if (disk.lastIndex() < message.index || disk.hardState().term < message.term) {
        throw new SimFailure(
          'durability',
          `node ${message.from} acked index ${message.index} in term ${message.term} to ${message.to} before it was durable (durable last index ${disk.lastIndex()}, term ${disk.hardState().term})`,
        );
      }
    }
  }
}

function fmt(h: HardState): string {
  return `{term ${h.term}, vote ${h.vote}, commit ${h.commit}}`;
}
