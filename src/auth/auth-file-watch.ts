/**
 * Reloads the auth file while the node runs, so `tessera user add` takes effect without a restart: every
 * intervalMs the file's mtime and size are compared with the last load; on a change the file is read and
 * validated again, and only a valid file is handed to `onLoad` (an invalid one is reported to `onError`
 * and the node keeps the last valid file). One timer, unref'd; stop() ends it.
 */
import { statSync } from 'node:fs';
import { loadAuthFile, type AuthFile } from './auth-file';

export const AUTH_FILE_WATCH_MS = 2000;

export function watchAuthFile(
  path: string,
  onLoad: (file: AuthFile) => void,
  onError: (message: string) => void,
  intervalMs: number = AUTH_FILE_WATCH_MS,
): { stop(): void } {
  const stamp = (): string => {
    try {
      const st = statSync(path);
      return `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch (e) {
      return `missing:${(e as Error).message}`;
    }
  };
  let last = stamp();
  const timer = setInterval(() => {
    const now = stamp();
    if (now === last) return;
    last = now;
    try {
      onLoad(loadAuthFile(path));
    } catch (e) {
      onError((e as Error).message);
    }
  }, intervalMs);
  timer.unref?.();
  return { stop: () => clearInterval(timer) };
}
