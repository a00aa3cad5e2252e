/**
 * An entry's bytes own their memory: encodeCommand must not return a view into msgpackr's shared target,
 * which later packs (1 MiB Raft messages) keep filling. Before, every 64 KiB write kept in the leader's Raft
 * log pinned a multi-MiB buffer (2,000 writes of 64 KiB took the leader to 767 MiB RSS; 285 MiB after).
 */
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../../src/codec';
import { packr } from '../../../src/codec/packr';

describe('encodeCommand', () => {
  it('returns bytes that pin no more than themselves, even between large packs', () => {
    const value = Buffer.alloc(64 * 1024, 7);
    const buffers = new Set<ArrayBufferLike>();
    let pinnedBytes = 0;
    let dataBytes = 0;
    for (let i = 0; i < 40; i++) {
      const data = encodeCommand({
        type: 'put',
        key: Buffer.from(`k${i}`),
        value,
        session: { clientId: 'ab'.repeat(16), seq: i + 1 },
        atMs: 1,
      });
      dataBytes += data.length;
      if (!buffers.has(data.buffer)) pinnedBytes += data.buffer.byteLength;
      buffers.add(data.buffer);
      packr.pack([Buffer.alloc(1024 * 1024, 1)]); // a Raft message encoded between two proposals
    }
    expect(pinnedBytes).toBeLessThan(dataBytes * 1.1);
  });
});
