/**
 * Backup commands of the tessera CLI (src/backup): `backup --out FILE` (a consistent copy of every shard,
 * written to a temporary file and renamed when complete), `backup verify FILE` (checksum and structure)
 * and `restore FILE --id N --peers ... --data-dir DIR` (seeds one node of a new cluster; run it on every
 * node with the same FILE and --peers, then `tessera start` them). A damaged, truncated or foreign file is
 * refused with the problem named and exit 1, and nothing is written.
 */
import { restoreBackup, takeBackup, verifyBackup, type BackupShard } from '../../src/backup';
import { TesseraError } from '../../src/base';
import { parsePeers } from '../../src/config';
import { EXIT_OK, UsageError, expectPositionals, intOption, json, parse, withClient } from './args';
import type { Io } from './args';

export const backupHelp = `Backup and restore:
  backup --out FILE [--chunk-bytes N] [--timeout-ms N]
                                    copy every shard (each at one read index, from its leader) into FILE,
                                    while the cluster serves; FILE appears only once complete (SHA-256 inside)
  backup verify FILE                check a backup's checksum and structure; print its shards
  restore FILE --id N --peers ID=HOST:PORT,... --data-dir DIR [--cluster-token T]
                                    seed node N of a NEW cluster from FILE (run on every node with the same
                                    FILE and --peers; DIR must be empty), then start the nodes with
                                    tessera start --id N --peers ... --data-dir DIR [--cluster-token T];
                                    the new cluster has the backup's shards (same ranges), a new cluster id`;

const BACKUP_USAGE = 'tessera backup --out FILE [--chunk-bytes N] [--timeout-ms N] | tessera backup verify FILE';
const RESTORE_USAGE = 'tessera restore FILE --id N --peers ID=HOST:PORT,... --data-dir DIR [--cluster-token T]';

function printable(b: Buffer | null): string {
  if (b === null) return '(end)';
  if (b.length === 0) return '(start)';
  for (const c of b) if (c < 0x21 || c > 0x7e) return `0x${b.toString('hex')}`;
  return b.toString('latin1').startsWith('0x') ? `0x${b.toString('hex')}` : b.toString('latin1');
}

function shardLine(s: BackupShard): string {
  return `  shard ${s.id} [${printable(s.start)}, ${printable(s.end)}) epoch ${s.epoch} read index ${s.readIndex} applied ${s.applied}: ${s.items} items`;
}

function shardJson(s: BackupShard) {
  return {
    id: s.id,
    start: s.start.toString('hex'),
    end: s.end === null ? null : s.end.toString('hex'),
    epoch: s.epoch,
    readIndex: s.readIndex,
    applied: s.applied,
    items: s.items,
  };
}

export async function backupCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, {
    out: { type: 'string' },
    'chunk-bytes': { type: 'string' },
    'timeout-ms': { type: 'string' },
  });
  if (p.positionals[0] === 'verify') {
    const [, file] = expectPositionals(p, 2, 2, BACKUP_USAGE);
    const v = await verifyBackup(file!);
    const h = v.header;
    const items = h.shards.reduce((n, s) => n + s.items, 0);
    io.out(
      p.global.json
        ? json({
            file,
            ok: true,
            bytes: v.bytes,
            sha256: v.sha256.toString('hex'),
            clusterId: h.clusterId,
            createdAtMs: h.createdAtMs,
            shards: h.shards.map(shardJson),
          })
        : [
            `${file}: OK (${v.bytes} bytes, SHA-256 ${v.sha256.toString('hex')})`,
            `cluster ${h.clusterId || '(unknown)'}, taken ${new Date(h.createdAtMs).toISOString()}, ${h.shards.length} shards, ${items} items`,
            ...h.shards.map(shardLine),
          ].join('\n'),
    );
    return EXIT_OK;
  }
  expectPositionals(p, 0, 0, BACKUP_USAGE);
  const out = p.values.out;
  if (typeof out !== 'string' || out === '') throw new UsageError(`usage: ${BACKUP_USAGE}`);
  const chunkBytes = intOption(p.values, 'chunk-bytes', 0, 0, 64 * 1024 * 1024);
  const deadlineMs = intOption(p.values, 'timeout-ms', 60 * 60 * 1000, 1);
  const summary = await withClient(p.global, (client) =>
    takeBackup({
      client,
      out,
      chunkBytes,
      deadlineMs,
      onShard: (s) => {
        if (!p.global.json) io.err(shardLine(s).trim());
      },
    }),
  );
  const items = summary.shards.reduce((n, s) => n + s.items, 0);
  io.out(
    p.global.json
      ? json({
          file: out,
          bytes: summary.bytes,
          sha256: summary.sha256,
          clusterId: summary.clusterId,
          shards: summary.shards.map(shardJson),
        })
      : `backup ${out}: ${summary.shards.length} shards, ${items} items, ${summary.bytes} bytes, SHA-256 ${summary.sha256}`,
  );
  return EXIT_OK;
}

export async function restoreCommand(argv: string[], io: Io): Promise<number> {
  const p = parse(argv, {
    id: { type: 'string' },
    peers: { type: 'string' },
    'data-dir': { type: 'string' },
    'cluster-token': { type: 'string' },
  });
  const [file] = expectPositionals(p, 1, 1, RESTORE_USAGE);
  const { id: idText, peers: peersText } = p.values;
  const dataDir = p.values['data-dir'];
  if (idText === undefined || typeof peersText !== 'string' || typeof dataDir !== 'string' || dataDir === '')
    throw new UsageError(`usage: ${RESTORE_USAGE}`);
  const nodeId = intOption(p.values, 'id', 0, 1, 0xffff_ffff);
  let peers;
  try {
    peers = parsePeers(peersText, '--peers');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const token = p.values['cluster-token'];
  try {
    const r = await restoreBackup({
      file: file!,
      nodeId,
      peers,
      dataDir,
      clusterToken: typeof token === 'string' && token !== '' ? token : null,
    });
    io.out(
      p.global.json
        ? json({
            dataDir,
            nodeId,
            clusterId: r.clusterId,
            sourceClusterId: r.sourceClusterId,
            keys: r.keys,
            index: r.index,
            shards: r.shards.map((s) => ({
              id: s.id,
              start: s.start.toString('hex'),
              end: s.end === null ? null : s.end.toString('hex'),
              epoch: s.epoch,
            })),
          })
        : [
            `restored ${r.keys} keys from ${file} into ${dataDir} for node ${nodeId} of new cluster ${r.clusterId.slice(0, 8)}... (backup of cluster ${r.sourceClusterId.slice(0, 8) || '?'}...)`,
            `${r.shards.length} shards as in the backup: ${r.shards.map((s) => `${s.id} [${printable(s.start)}, ${printable(s.end)})`).join(', ')}`,
            `start: tessera start --id ${nodeId} --peers ${peersText} --data-dir ${dataDir}${typeof token === 'string' && token !== '' ? ' --cluster-token ...' : ''}`,
          ].join('\n'),
    );
    return EXIT_OK;
  } catch (e) {
    if (e instanceof TesseraError && (e.code === 'CORRUPTION' || e.code === 'CONFIG'))
      throw new TesseraError(e.code, `${e.message}; nothing was written`, e.details);
    throw e;
  }
}
