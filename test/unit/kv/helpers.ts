import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCommand } from '../../../src/codec';
import type { Command, SessionTag } from '../../../src/codec';
import type { Entry } from '../../../src/raft';
import { NodeStore } from '../../../src/storage';

export const b = (s: string): Buffer => Buffer.from(s);

/** Opens stores in temp dirs and closes/removes them all in cleanup(). */
export class Stores {
  private readonly open: Array<{ store: NodeStore; dir: string }> = [];
  async make(): Promise<{ store: NodeStore; dir: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-kv-'));
    const store = await NodeStore.open(dir);
    const s = { store, dir };
    this.open.push(s);
    return s;
  }
  async reopen(s: { store: NodeStore; dir: string }): Promise<NodeStore> {
    await s.store.close();
    s.store = await NodeStore.open(s.dir);
    return s.store;
  }
  async cleanup(): Promise<void> {
    for (const s of this.open.splice(0)) {
      await s.store.close();
      await rm(s.dir, { recursive: true, force: true });
    }
  }
}

/** Log entries 1.. from commands (null = an empty leader entry). */
export class Log {
  readonly entries: Entry[] = [];
  add(c: Command | null | 'config'): Entry {
    const index = this.entries.length + 1;
    const e: Entry =
      c === null
        ? { kind: 'empty', term: 1, index }
        : c === 'config'
          ? { kind: 'config', term: 1, index, change: { type: 'addLearner', node: 9 } }
          : { kind: 'normal', term: 1, index, data: encodeCommand(c) };
    this.entries.push(e);
    return e;
  }
}

export const put = (k: string, v: string, session: SessionTag | null = null): Command => ({
  type: 'put',
  key: b(k),
  value: b(v),
  session,
});
export const del = (k: string, session: SessionTag | null = null): Command => ({ type: 'delete', key: b(k), session });
export const cas = (
  k: string,
  expected: string | null,
  value: string | null,
  session: SessionTag | null = null,
): Command => ({
  type: 'cas',
  key: b(k),
  expected: expected === null ? null : b(expected),
  value: value === null ? null : b(value),
  session,
});

export const whole = { start: Buffer.alloc(0), end: null };
