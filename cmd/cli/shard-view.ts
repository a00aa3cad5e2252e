/**
 * How the CLI shows shards (pure): printable keys, the reports of several nodes folded into one entry per
 * shard, the stable `shard list --json` shape and the human table.
 * Printable keys: a key of printable ASCII (0x20..0x7e) is shown as itself, any other as 0x + hex. A
 * printable key that itself begins with "0x" is shown in hex too, so every shown key reads back to one key.
 * Folding: per shard id the report at the newest epoch wins (a replica that has not applied a split yet
 * still reports the wider parent range at the older epoch); among those, the most applied replica's.
 */
import type { ShardInfo } from '../../src/client';
import { table } from './table';

export function printableKey(key: Buffer): string {
  const printable = key.every((b) => b >= 0x20 && b <= 0x7e);
  const text = key.toString('latin1');
  return printable && !text.startsWith('0x') ? text : `0x${key.toString('hex')}`;
}

/** One shard in the `shard list --json` shape (field order as documented). */
export interface ShardJson {
  id: number;
  start: string;
  /** null: unbounded (the last shard). */
  end: string | null;
  epoch: number;
  replicas: { id: number; voter: boolean }[];
  leader: number;
  keys: number;
  bytes: number;
}

export function shardJson(s: ShardInfo): ShardJson {
  return {
    id: s.id,
    start: printableKey(s.start),
    end: s.end === null ? null : printableKey(s.end),
    epoch: s.epoch,
    replicas: s.replicas.map((r) => ({ id: r.id, voter: r.voter })),
    leader: s.leader,
    keys: s.keys,
    bytes: s.bytes,
  };
}

/** Every node's report folded into one entry per shard, ascending by start (see the header). */
export function foldShardReports(reports: readonly (readonly ShardInfo[])[]): ShardInfo[] {
  const best = new Map<number, ShardInfo>();
  for (const report of reports)
    for (const s of report) {
      const cur = best.get(s.id);
      if (cur === undefined) {
        best.set(s.id, s);
        continue;
      }
      const newer = s.epoch > cur.epoch || (s.epoch === cur.epoch && s.applied > cur.applied);
      const [winner, other] = newer ? [s, cur] : [cur, s];
      // A replica that knows no leader defers to one at the same epoch that does.
      const leader = winner.leader !== 0 || other.epoch !== winner.epoch ? winner.leader : other.leader;
      best.set(s.id, { ...winner, leader });
    }
  return [...best.values()].sort((a, b) => a.start.compare(b.start) || a.id - b.id);
}

const SHOWN_KEY_CHARS_MAX = 40;

/** A printable key for humans, long ones cut; `open` for an unbounded end. */
function shown(text: string | null, open: string): string {
  if (text === null || text === '') return open;
  return text.length > SHOWN_KEY_CHARS_MAX ? `${text.slice(0, SHOWN_KEY_CHARS_MAX - 3)}...` : text;
}

/** `[start, end)` for humans from printable keys: <min> and <max> for the open ends, long keys cut. */
export function rangeText(r: { start: string; end: string | null }): string {
  return `[${shown(r.start, '<min>')}, ${shown(r.end, '<max>')})`;
}

export function renderShardTable(shards: readonly ShardInfo[]): string {
  if (shards.length === 0) return 'no shards reported';
  const rows = [['ID', 'START', 'END', 'EPOCH', 'LEADER', 'REPLICAS', 'KEYS', 'BYTES']];
  for (const s of shards.map(shardJson))
    rows.push([
      String(s.id),
      shown(s.start, '<min>'),
      shown(s.end, '<max>'),
      String(s.epoch),
      s.leader === 0 ? 'none' : String(s.leader),
      s.replicas.map((r) => `${r.id}${r.voter ? '' : '(learner)'}`).join(','),
      String(s.keys),
      String(s.bytes),
    ]);
  return table(rows, '').join('\n');
}

export function renderSplit(key: Buffer, r: { left: ShardInfo; right: ShardInfo }): string {
  const side = (s: ShardJson) => `shard ${s.id} ${rangeText(s)} epoch ${s.epoch}`;
  return `split at ${printableKey(key)}: left ${side(shardJson(r.left))}, right ${side(shardJson(r.right))}`;
}
