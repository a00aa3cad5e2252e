/**
 * Automatic splits (issue 10, "Split"): a shard whose keys or bytes pass --split-max-keys /
 * --split-max-bytes is split near its middle by its leader (the split itself: NodeHost.splitShard).
 *
 * When a shard is measured: on its leader, once after the node became its leader, and again after writes
 * applied since the last measurement hold a quarter of either bound (in entries or bytes), and again after
 * each split it made (the half it keeps may still be over), so a shard that grows is measured about 4 times
 * before it splits (a measurement reads the shard: about 4 bytes read per byte written at most) and a quiet
 * one never again. One measurement runs at a time per node, at most one is started per tick. A
 * measurement is a stale scan of the shard on this replica (pages; the event loop turns between them) that
 * counts keys and bytes and keeps at most SAMPLES_MAX buckets (adjacent buckets merge as it grows), from
 * which planSplit (src/shard/split.ts) picks the bucket boundary closest to half the weight. A failed split is logged and measured again later.
 * Each measurement is also reported (reportStats: the per-shard keys and bytes metrics) while this node
 * still leads the shard, and withdrawn when its leadership changes, so only leaders report a shard.
 */
import type { GroupId } from '../base';
import type { ScanPage } from '../codec';
import type { Logger } from '../obs';
import { planSplit, type ShardDescriptor } from '../shard';
import type { Group } from './group';

/** Buckets a measurement keeps (the split key is one of their boundaries). */
export const SAMPLES_MAX = 256;
const PAGE_KEYS = 1024;
const PAGE_BYTES = 4 * 1024 * 1024;

export interface Sample {
  key: Buffer;
  keys: number;
  bytes: number;
}

/** Keys, bytes and at most SAMPLES_MAX buckets of a shard on this replica (see the header). */
export async function measureShard(sm: {
  shard: { start: Buffer; end: Buffer | null };
  scan(start: Buffer, end: Buffer | null, limit: number, bytesMax: number): Promise<ScanPage>;
}): Promise<{ keys: number; bytes: number; samples: Sample[] }> {
  const { start, end } = sm.shard;
  let samples: Sample[] = [];
  let stride = 1;
  let keys = 0;
  let bytes = 0;
  let from: Buffer | null = start;
  while (from !== null) {
    const page: ScanPage = await sm.scan(from, end, PAGE_KEYS, PAGE_BYTES);
    for (const kv of page.items) {
      const size = kv.key.length + kv.value.length;
      const last = samples[samples.length - 1];
      if (last === undefined || last.keys >= stride) samples.push({ key: kv.key, keys: 1, bytes: size });
      else {
        last.keys++;
        last.bytes += size;
      }
      keys++;
      bytes += size;
      if (samples.length > SAMPLES_MAX) {
        samples = mergePairs(samples);
        stride *= 2;
      }
    }
    from = page.more ? page.nextStart : null;
  }
  return { keys, bytes, samples };
}

function mergePairs(samples: Sample[]): Sample[] {
  const out: Sample[] = [];
  for (let i = 0; i < samples.length; i += 2) {
    const a = samples[i] as Sample;
    const b = samples[i + 1];
    out.push(b === undefined ? a : { key: a.key, keys: a.keys + b.keys, bytes: a.bytes + b.bytes });
  }
  return out;
}

export interface AutoSplitDeps {
  splitMaxKeys: number;
  splitMaxBytes: number;
  /** The KV groups this node leads now. */
  leaders: () => Iterable<Group>;
  descriptor: (g: Group) => ShardDescriptor;
  split: (key: Buffer) => Promise<unknown>;
  logger: Logger;
  /** A shard's measured keys and bytes (this node leads it), or null: withdraw what was reported. */
  reportStats?: (groupId: GroupId, stats: { keys: number; bytes: number } | null) => void;
}

interface Written {
  entries: number;
  bytes: number;
  /** Measured since this node became the leader. */
  measured: boolean;
}

export class AutoSplit {
  private readonly written = new Map<GroupId, Written>();
  private running = false;

  constructor(private readonly d: AutoSplitDeps) {}

  get enabled(): boolean {
    return this.d.splitMaxKeys > 0 || this.d.splitMaxBytes > 0;
  }

  /** Counts writes applied in a group (any replica: only a leader's counts are used). */
  noteApplied(groupId: GroupId, entries: number, bytes: number): void {
    if (!this.enabled) return;
    const w = this.written.get(groupId);
    if (w === undefined) this.written.set(groupId, { entries, bytes, measured: false });
    else {
      w.entries += entries;
      w.bytes += bytes;
    }
  }

  /** Leadership changed: a new leader measures the shard once. */
  leaderChanged(groupId: GroupId): void {
    this.written.delete(groupId);
    this.d.reportStats?.(groupId, null);
  }

  /** Once per tick: starts at most one measurement (and split) if one is due. */
  poll(): void {
    if (!this.enabled || this.running) return;
    for (const g of this.d.leaders()) {
      const w = this.written.get(g.id) ?? { entries: 0, bytes: 0, measured: false };
      if (w.measured && !this.grewEnough(w)) continue;
      this.written.set(g.id, { entries: 0, bytes: 0, measured: true });
      this.running = true;
      void this.measureAndSplit(g).finally(() => {
        this.running = false;
      });
      return;
    }
  }

  private grewEnough(w: Written): boolean {
    const keysDue = this.d.splitMaxKeys > 0 && w.entries * 4 >= this.d.splitMaxKeys;
    const bytesDue = this.d.splitMaxBytes > 0 && w.bytes * 4 >= this.d.splitMaxBytes;
    return keysDue || bytesDue;
  }

  private async measureAndSplit(g: Group): Promise<void> {
    try {
      const stats = await measureShard(g.kvSm);
      if (g.isLeader) this.d.reportStats?.(g.id, { keys: stats.keys, bytes: stats.bytes });
      const limits = {
        splitMaxKeys: this.d.splitMaxKeys > 0 ? this.d.splitMaxKeys : Number.MAX_SAFE_INTEGER,
        splitMaxBytes: this.d.splitMaxBytes > 0 ? this.d.splitMaxBytes : Number.MAX_SAFE_INTEGER,
      };
      const plan = planSplit(this.d.descriptor(g), stats, limits);
      if (plan.kind === 'none') return;
      this.d.logger.info({ shard: g.id, keys: stats.keys, bytes: stats.bytes, reason: plan.reason }, 'auto split');
      await this.d.split(Buffer.from(plan.key));
      // The half this leader keeps may still pass a bound (a shard that grew faster than it was measured):
      // measured again next, not only after more writes (a soak left 88-key halves at --split-max-keys 40
      // until a leadership move measured them, mid-rebalance).
      const w = this.written.get(g.id);
      if (w !== undefined) w.measured = false;
    } catch (e) {
      this.d.logger.warn({ shard: g.id, err: (e as Error).message }, 'auto split did not happen; measured again later');
      const w = this.written.get(g.id);
      if (w !== undefined) w.measured = false;
    }
  }
}
