/**
 * Collects raw option values from the three sources and merges them by precedence:
 * command-line flags > environment variables (TESSERA_*) > config file (--config / TESSERA_CONFIG) >
 * profile > defaults. Every raw value remembers where it came from, so validation errors name the
 * flag, variable or file key the user actually wrote.
 */
import { readFileSync } from 'node:fs';
import { TesseraError } from '../base';
import { OPTIONS, envName, flagName, type OptionSpec } from './options';

export interface RawValue {
  value: unknown;
  /** e.g. "--heartbeat-ms", "TESSERA_HEARTBEAT_MS", "config file /x.json key heartbeatMs" */
  source: string;
}

export type RawConfig = Map<string, RawValue>;

export interface ConfigSources {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile?: (path: string) => string;
}

function configError(message: string): TesseraError {
  return new TesseraError('CONFIG', message);
}

const byFlag = new Map<string, OptionSpec>(OPTIONS.map((o) => [flagName(o.key), o]));
const byKey = new Map<string, OptionSpec>(OPTIONS.map((o) => [o.key, o]));

export function parseArgv(argv: readonly string[]): RawConfig {
  const out: RawConfig = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw configError(`unexpected argument '${arg}' (options start with --; see --help)`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const spec = byFlag.get(name);
    if (!spec) throw configError(`unknown option '${name}' (see --help)`);
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (spec.kind === 'bool') {
      const next = argv[i + 1];
      if (next === 'true' || next === 'false') {
        value = next;
        i++;
      } else value = 'true';
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw configError(`option '${name}' needs a value`);
      value = next;
      i++;
    }
    // A repeated flag: the last one wins (like Go's flag package), so wrappers can append overrides.
    out.set(spec.key, { value, source: name });
  }
  return out;
}

export function parseEnv(env: Readonly<Record<string, string | undefined>>): RawConfig {
  const out: RawConfig = new Map();
  for (const spec of OPTIONS) {
    const name = envName(spec.key);
    const value = env[name];
    if (value !== undefined && value !== '') out.set(spec.key, { value, source: name });
  }
  return out;
}

export function parseConfigFile(path: string, text: string): RawConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw configError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw configError(`config file ${path} must hold a JSON object of options`);
  }
  const out: RawConfig = new Map();
  for (const [rawKey, value] of Object.entries(json as Record<string, unknown>)) {
    // Accept camelCase (heartbeatMs) and the flag spelling (heartbeat-ms).
    const key = rawKey.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const spec = byKey.get(key);
    if (!spec || key === 'config') throw configError(`config file ${path}: unknown key '${rawKey}'`);
    out.set(key, { value, source: `config file ${path} key ${rawKey}` });
  }
  return out;
}

/** Merge all sources by precedence; the returned map holds only values the user set. */
export function loadRawConfig(sources: ConfigSources): RawConfig {
  const flags = parseArgv(sources.argv);
  const env = parseEnv(sources.env);
  const configPath = flags.get('config') ?? env.get('config');
  let file: RawConfig = new Map();
  if (configPath !== undefined) {
    const path = String(configPath.value);
    const read = sources.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
    let text: string;
    try {
      text = read(path);
    } catch (e) {
      throw configError(`cannot read config file ${path} (${configPath.source}): ${(e as Error).message}`);
    }
    file = parseConfigFile(path, text);
  }
  const merged: RawConfig = new Map();
  for (const source of [file, env, flags]) for (const [k, v] of source) merged.set(k, v);
  merged.delete('config');
  return merged;
}
