/**
 * Reloads the auth file while the node runs, so `tessera user add` takes effect without a restart. No
 * timer: the Authenticator calls the poll function on each login and token check, and at most once per
 * intervalMs it compares the file's mtime, size and inode with the last load; on a change the file is read
 * and validated again, and only a valid file is handed to `onLoad` (an invalid one is reported to
 * `onError` and the node keeps the last valid file).
 */
import { statSync } from 'node:fs';
import { loadAuthFile, type AuthFile } from './auth-file';

export const AUTH_FILE_WATCH_MS = 2000;

export function authFilePoller(
  path: string,
  onLoad: (file: AuthFile) => void,
  onError: (message: string) => void,
  intervalMs: number = AUTH_FILE_WATCH_MS,
  nowMs: () => number = Date.now,
): () => void {
  const stamp = (): string => {
    try {
      const st = statSync(path);
      return `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch (e) {
      return `missing:${(e as Error).message}`;
    }
  };
  let last = stamp();
  let checkedAtMs = nowMs();
  return () => {
    const now = nowMs();
    if (now - checkedAtMs < intervalMs) return;
    checkedAtMs = now;
    const current = stamp();
    if (current === last) return;
    last = current;
    try {
      onLoad(loadAuthFile(path));
    } catch (e) {
      onError((e as Error).message);
    }
  };
}
