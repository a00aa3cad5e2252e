/**
 * The backup commands of the CLI in process (cmd/cli/backup-commands.ts): `backup verify` prints a good
 * file's shards and refuses a damaged one with exit 1; `restore` seeds a data dir (printing the new
 * cluster and its shards), refuses a non-empty data dir, a truncated file and an --id outside --peers
 * with exit 1 or 2 and a message naming the problem, writing nothing; usage errors exit 2.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../cli/run-cli';
import { TWO_SHARDS, writeTestBackup } from './helpers';

let dir: string;
let file: string;
const peers = '1=127.0.0.1:7201,2=127.0.0.1:7202,3=127.0.0.1:7203';

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-backup-cli-'));
  file = join(dir, 'b.tbak');
  await writeTestBackup(file, TWO_SHARDS);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('tessera backup verify / restore', () => {
  it('backup verify prints the shards of a good file and refuses a damaged one', async () => {
    const ok = await runCliCaptured(['backup', 'verify', file]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/: OK \(\d+ bytes, SHA-256 [0-9a-f]{64}\)/);
    expect(ok.out).toMatch(/2 shards, 7 items/);
    expect(ok.out).toContain('shard 3 [m, (end)) epoch 2 read index 6 applied 7: 3 items');
    const bytes = readFileSync(file);
    bytes[bytes.length - 50] ^= 0x10;
    writeFileSync(file, bytes);
    const bad = await runCliCaptured(['backup', 'verify', file]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/tessera backup: backup .*b\.tbak: checksum mismatch/);
  });

  it('restore seeds a data dir and says what it made', async () => {
    const r = await runCliCaptured(['restore', file, '--id', '2', '--peers', peers, '--data-dir', join(dir, 'n2')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      /restored 6 keys from .* for node 2 of new cluster [0-9a-f]{8}\.\.\. \(backup of cluster aaaaaaaa/,
    );
    expect(r.out).toContain('2 shards as in the backup: 1 [(start), m), 3 [m, (end))');
    expect(readdirSync(join(dir, 'n2'))).toEqual(['db']);
  });

  it('restore refuses a non-empty dir, a truncated file, an --id outside --peers; nothing is written', async () => {
    mkdirSync(join(dir, 'busy'));
    writeFileSync(join(dir, 'busy', 'x'), 'x');
    const busy = await runCliCaptured([
      'restore',
      file,
      '--id',
      '1',
      '--peers',
      peers,
      '--data-dir',
      join(dir, 'busy'),
    ]);
    expect(busy.code).toBe(1);
    expect(busy.err).toMatch(/--data-dir .*busy is not empty .*; nothing was written/);
    expect(readdirSync(join(dir, 'busy'))).toEqual(['x']);
    writeFileSync(file, readFileSync(file).subarray(0, 100));
    const cut = await runCliCaptured(['restore', file, '--id', '1', '--peers', peers, '--data-dir', join(dir, 'n1')]);
    expect(cut.code).toBe(1);
    expect(cut.err).toMatch(/truncated.*; nothing was written/);
    expect(existsSync(join(dir, 'n1'))).toBe(false);
    const notPeer = await runCliCaptured([
      'restore',
      file,
      '--id',
      '9',
      '--peers',
      peers,
      '--data-dir',
      join(dir, 'n9'),
    ]);
    expect(notPeer.code).toBe(1);
    expect(notPeer.err).toMatch(/--id 9 is not one of --peers/);
    const usage = await runCliCaptured(['restore', file, '--id', '1']);
    expect(usage.code).toBe(2);
    expect((await runCliCaptured(['backup'])).code).toBe(2);
  });
});
