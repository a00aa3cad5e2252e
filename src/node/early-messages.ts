/**
 * Peer messages for a group this node does not host yet, kept for a moment: a split's right-hand group
 * starts on each replica when that replica applies the split, and the parent's leader (which applies it
 * first) makes the new group campaign at once; its vote requests reach the followers a little before they
 * applied the split themselves. Kept, they are stepped when the group opens (NodeHost.createSplitGroup),
 * through every check a fresh message goes through; otherwise the election waits a full timeout.
 * Bounds: at most GROUPS_MAX groups, MESSAGES_PER_GROUP_MAX messages each, BYTES_MAX bytes in all; a
 * message older than `ttlMs` is dropped. Whatever does not fit is dropped (Raft resends).
 */
import type { NodeId } from '../base';

const GROUPS_MAX = 64;
const MESSAGES_PER_GROUP_MAX = 16;
const BYTES_MAX = 1024 * 1024;

interface Early {
  from: NodeId;
  buf: Buffer;
  atMs: number;
}

export class EarlyMessages {
  private readonly byGroup = new Map<number, Early[]>();
  private bytes = 0;

  constructor(private readonly ttlMs: number) {}

  /** Keeps a message for `groupId`; false when it was dropped (a bound). */
  add(groupId: number, from: NodeId, buf: Buffer, nowMs: number): boolean {
    this.expire(nowMs);
    if (this.bytes + buf.length > BYTES_MAX) return false;
    let list = this.byGroup.get(groupId);
    if (list === undefined) {
      if (this.byGroup.size >= GROUPS_MAX) return false;
      list = [];
      this.byGroup.set(groupId, list);
    }
    if (list.length >= MESSAGES_PER_GROUP_MAX) return false;
    list.push({ from, buf, atMs: nowMs });
    this.bytes += buf.length;
    return true;
  }

  /** The fresh messages kept for `groupId`, in arrival order; forgets them. */
  take(groupId: number, nowMs: number): Early[] {
    this.expire(nowMs);
    const list = this.byGroup.get(groupId) ?? [];
    this.byGroup.delete(groupId);
    for (const m of list) this.bytes -= m.buf.length;
    return list;
  }

  get size(): number {
    let n = 0;
    for (const list of this.byGroup.values()) n += list.length;
    return n;
  }

  private expire(nowMs: number): void {
    for (const [g, list] of this.byGroup) {
      let drop = 0;
      while (drop < list.length && nowMs - (list[drop] as Early).atMs > this.ttlMs) drop++;
      if (drop === 0) continue;
      for (let i = 0; i < drop; i++) this.bytes -= (list[i] as Early).buf.length;
      if (drop === list.length) this.byGroup.delete(g);
      else list.splice(0, drop);
    }
  }
}
