/**
 * An entry's bytes own their memory: encodeCommand must not return a view into msgpackr's shared target,
 * which later packs (1 MiB Raft messages) keep filling. Before, every 64 KiB write kept in the leader's Raft
 * log pinned a multi-MiB buffer (2,000 writes of 64 KiB took the leader to 767 MiB RSS; 285 MiB after).
 * encodeRaftMessage likewise: with one follower stopped (SIGSTOP), the messages queued for it pinned the
 * shared targets (432 MiB; 224 MiB after).
 */
import { describe, expect, it } from 'vitest';
import { encodeCommand, encodeRaftMessage } from '../../../src/codec';
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

  it('encodeRaftMessage too: a message queued for a peer that does not read pins only itself', () => {
    const data = new Uint8Array(64 * 1024);
    const buffers = new Set<ArrayBufferLike>();
    let pinnedBytes = 0;
    let messageBytes = 0;
    for (let i = 0; i < 40; i++) {
      const entries = [{ kind: 'normal' as const, index: i + 2, term: 1, data }];
      const message = {
        type: 'append' as const,
        from: 1,
        to: 2,
        term: 1,
        prevLogIndex: i + 1,
        prevLogTerm: 1,
        entries,
        commit: 1,
      };
      const buf = encodeRaftMessage({ groupId: 1, message });
      messageBytes += buf.length;
      if (!buffers.has(buf.buffer)) pinnedBytes += buf.buffer.byteLength;
      buffers.add(buf.buffer);
      packr.pack([Buffer.alloc(1024 * 1024, 1)]); // a large message for another peer
    }
    expect(pinnedBytes).toBeLessThan(messageBytes * 1.1);
  });
});
