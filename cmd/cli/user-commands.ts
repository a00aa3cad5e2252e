/**
 * `tessera user add|remove|list`: edits the auth file every node of a cluster reads (--auth-file FILE or
 * TESSERA_AUTH_FILE; src/auth/auth-file.ts). No cluster is contacted: copy the file to every node (the
 * nodes reload it within a few seconds). `user add` creates the file (with a fresh random token secret)
 * when it does not exist, and creates or updates the user; the password comes from TESSERA_PASSWORD or a
 * prompt (asked twice on a terminal), never empty. The file is written atomically with mode 0600.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  PASSWORD_BYTES_MAX,
  PREFIXES_MAX,
  ROLES,
  USER_NAME_RE,
  hashPassword,
  isRole,
  loadAuthFile,
  newAuthFile,
  writeAuthFile,
  type AuthFile,
} from '../../src/auth';
import { EXIT_FAILED, EXIT_OK, UsageError, json } from './args';
import type { Io } from './args';
import { PASSWORD_ENV, passwordFor, promptHidden } from './password';

export const userHelp = `Users (access control; edits the auth file, contacts no node):
  user add NAME --role read|readwrite|admin [--prefix P ...] --auth-file FILE
                                    create or update a user (password from ${PASSWORD_ENV} or a prompt);
                                    --prefix (repeatable) limits its keys; creates FILE if missing
  user remove NAME --auth-file FILE remove a user (its tokens stop working)
  user list --auth-file FILE        users, roles and prefixes`;

interface UserArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

function parseUserArgs(argv: string[]): UserArgs {
  try {
    return parseArgs({
      args: argv,
      options: {
        role: { type: 'string' },
        prefix: { type: 'string', multiple: true },
        'auth-file': { type: 'string' },
        json: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    }) as UserArgs;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function authFilePath(a: UserArgs, env: NodeJS.ProcessEnv): string {
  const path = (a.values['auth-file'] as string | undefined) ?? env.TESSERA_AUTH_FILE;
  if (path === undefined || path === '') throw new UsageError('--auth-file FILE is required (or TESSERA_AUTH_FILE)');
  return path;
}

function userName(a: UserArgs, usage: string): string {
  if (a.positionals.length !== 1) throw new UsageError(`usage: ${usage}`);
  const name = a.positionals[0] as string;
  if (!USER_NAME_RE.test(name)) throw new UsageError(`user name '${name}' must match ${USER_NAME_RE}`);
  return name;
}

/** The new user's password: TESSERA_PASSWORD, or typed twice on the terminal. */
async function newPassword(name: string, env: NodeJS.ProcessEnv): Promise<string> {
  const password = await passwordFor(`new user '${name}'`, env);
  if (env[PASSWORD_ENV] === undefined || env[PASSWORD_ENV] === '') {
    const again = await promptHidden(`Password for new user '${name}' again: `);
    if (again !== password) throw new UsageError('the two passwords differ; nothing was changed');
  }
  if (Buffer.byteLength(password, 'utf8') > PASSWORD_BYTES_MAX)
    throw new UsageError(`the password is longer than ${PASSWORD_BYTES_MAX} bytes`);
  return password;
}

async function userAdd(a: UserArgs, io: Io, env: NodeJS.ProcessEnv): Promise<number> {
  const usage = 'tessera user add NAME --role read|readwrite|admin [--prefix P ...] --auth-file FILE';
  const name = userName(a, usage);
  const role = a.values.role;
  if (!isRole(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')} (usage: ${usage})`);
  const prefixes = [...new Set((a.values.prefix as string[] | undefined) ?? [])];
  if (prefixes.some((p) => p === '')) throw new UsageError('--prefix must not be empty');
  if (prefixes.length > PREFIXES_MAX) throw new UsageError(`at most ${PREFIXES_MAX} prefixes`);
  if (role === 'admin' && prefixes.length > 0) throw new UsageError('an admin cannot be limited to prefixes');
  const path = authFilePath(a, env);
  const created = !existsSync(path);
  const file: AuthFile = created ? newAuthFile() : loadAuthFile(path);
  const password = await newPassword(name, env);
  const existed = file.users[name] !== undefined;
  file.users[name] = { role, prefixes, password: await hashPassword(password) };
  writeAuthFile(path, file);
  const what = `${existed ? 'updated' : 'added'} user '${name}' (${role}${prefixes.length ? `, prefixes ${prefixes.map((p) => JSON.stringify(p)).join(' ')}` : ''})`;
  io.out(`${what} in ${path}${created ? ' (new auth file with a fresh token secret)' : ''}`);
  return EXIT_OK;
}

function userRemove(a: UserArgs, io: Io, env: NodeJS.ProcessEnv): number {
  const name = userName(a, 'tessera user remove NAME --auth-file FILE');
  const path = authFilePath(a, env);
  const file = loadAuthFile(path);
  if (file.users[name] === undefined) {
    io.err(`tessera user remove: no user '${name}' in ${path}`);
    return EXIT_FAILED;
  }
  delete file.users[name];
  writeAuthFile(path, file);
  io.out(`removed user '${name}' from ${path}`);
  return EXIT_OK;
}

function userList(a: UserArgs, io: Io, env: NodeJS.ProcessEnv): number {
  const file = loadAuthFile(authFilePath(a, env));
  const users = Object.entries(file.users).map(([name, u]) => ({ name, role: u.role, prefixes: u.prefixes }));
  if (a.values.json === true) io.out(json(users));
  else for (const u of users) io.out(`${u.name}\t${u.role}\t${u.prefixes.map((p) => JSON.stringify(p)).join(' ')}`);
  return EXIT_OK;
}

export async function userCommand(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [sub, ...rest] = argv;
  const a = parseUserArgs(rest);
  if (sub === 'add') return userAdd(a, io, env);
  if (sub === 'remove') return userRemove(a, io, env);
  if (sub === 'list') return userList(a, io, env);
  throw new UsageError(`usage: tessera user add|remove|list ... (see tessera --help)`);
}
