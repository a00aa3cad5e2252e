/**
 * The password of `--user` and of `tessera user add`: the environment variable TESSERA_PASSWORD when set,
 * else a prompt on the terminal (echo off); without either it is a usage error (exit 2), never an empty
 * password. The prompt reads at most PASSWORD_CHARS_MAX characters.
 */
import { UsageError } from './args';

export const PASSWORD_ENV = 'TESSERA_PASSWORD';
const PASSWORD_CHARS_MAX = 1024;

/** Reads a line from the terminal without echoing it; null when stdin is not a terminal. */
export function promptHidden(question: string): Promise<string | null> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.resolve(null);
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (value: string | null, error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(text);
        if (ch === '\u0003') return done(null, new UsageError('interrupted'));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else if (text.length < PASSWORD_CHARS_MAX) text += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** The password from TESSERA_PASSWORD or a prompt; UsageError when neither gives a non-empty one. */
export async function passwordFor(what: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env[PASSWORD_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const typed = await promptHidden(`Password for ${what}: `);
  if (typed === null) throw new UsageError(`${what}: set ${PASSWORD_ENV} (no terminal to prompt for the password on)`);
  if (typed === '') throw new UsageError(`${what}: the password must not be empty`);
  return typed;
}
