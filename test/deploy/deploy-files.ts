/**
 * Test helper: reads the deployment files the repository ships (docker-compose.yml, Dockerfile,
 * deploy/prometheus, deploy/grafana, deploy/kubernetes) the way their tools would: YAML with merge keys
 * (`<<: *node`, as docker compose reads it), compose's `${VAR:?msg}` interpolation, and the `tessera`
 * command lines the files' comments tell users to run.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export const ROOT = resolve(__dirname, '../..');

export function repoText(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

export type Yaml = Record<string, unknown>;

export function asRecord(value: unknown, what: string): Yaml {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what}: not a mapping`);
  return value as Yaml;
}

export function asArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what}: not a list`);
  return value;
}

/** docker-compose.yml as docker compose reads it (YAML 1.1 merge keys resolved). */
export function loadCompose(): Yaml {
  return asRecord(parse(repoText('docker-compose.yml'), { merge: true }), 'docker-compose.yml');
}

export function loadYaml(path: string): Yaml {
  return asRecord(parse(repoText(path), { merge: true }), path);
}

/** Every document of a multi-document YAML file (Kubernetes manifests). */
export function loadYamlDocuments(path: string): Yaml[] {
  return parseAllDocuments(repoText(path)).map((d, i) => {
    if (d.errors.length > 0) throw new Error(`${path} document ${i}: ${d.errors[0]?.message}`);
    return asRecord(d.toJS(), `${path} document ${i}`);
  });
}

/**
 * Compose interpolation: $$ is a literal $, ${VAR} and $VAR take the variable, ${VAR:-default} a default
 * when unset or empty, ${VAR:?message} fails (as `docker compose` does) when unset or empty.
 */
export function interpolate(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
      if (whole === '$$') return '$';
      const name = (braced ?? bare) as string;
      const value = vars[name];
      const unset = op?.startsWith(':') ? value === undefined || value === '' : value === undefined;
      if (op?.endsWith('-')) return unset ? (arg ?? '') : (value as string);
      if (op?.endsWith('?')) {
        if (unset) throw new Error(`required variable ${name} is missing a value: ${arg}`);
        return value as string;
      }
      return value ?? '';
    },
  );
}

/** Splits a POSIX shell command line into words (single and double quotes, backslash escapes). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < line.length) word += line[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < line.length) word = (word ?? '') + line[++i];
    else if (/\s/.test(c)) {
      if (word !== null) words.push(word);
      word = null;
    } else word = (word ?? '') + c;
  }
  if (quote !== null) throw new Error(`unterminated quote in: ${line}`);
  if (word !== null) words.push(word);
  return words;
}

export interface DocumentedCommand {
  /** The comment line, for messages. */
  line: string;
  /** VAR=value words before the command (`TESSERA_PASSWORD=... node ...`, `env VAR=...`, `exec -e VAR=...`). */
  env: Record<string, string>;
  /** The arguments after `node dist/cmd/tessera.js`. */
  args: string[];
}

const CLI_ENTRY = 'dist/cmd/tessera.js';

/** The `node dist/cmd/tessera.js ...` commands in a file's `#` comments, one per line. */
export function documentedCommands(text: string): DocumentedCommand[] {
  const out: DocumentedCommand[] = [];
  for (const raw of text.split('\n')) {
    const hash = raw.indexOf('#');
    if (hash < 0 || !raw.slice(hash).includes(`node ${CLI_ENTRY}`)) continue;
    // One command per line; `a && b` and a trailing `# note` are cut off.
    const line = raw.slice(hash + 1).trim();
    const words = shellWords(line.split(/\s&&\s/).find((part) => part.includes(CLI_ENTRY)) as string);
    const at = words.indexOf(CLI_ENTRY);
    const env: Record<string, string> = {};
    for (const w of words.slice(0, at)) {
      const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(w);
      if (m) env[m[1] as string] = m[2] as string;
    }
    out.push({ line, env, args: words.slice(at + 1) });
  }
  return out;
}

/** The Dockerfile's ENTRYPOINT + CMD (exec form) of its last stage. */
export function dockerfileCommand(): { entrypoint: string[]; cmd: string[] } {
  const text = repoText('Dockerfile');
  const lastStage = text.slice(text.lastIndexOf('\nFROM '));
  const json = (instr: string): string[] => {
    const m = new RegExp(`^${instr}\\s+(\\[.*\\])\\s*$`, 'm').exec(lastStage);
    if (!m) throw new Error(`Dockerfile: no ${instr} in exec form in the last stage`);
    return JSON.parse(m[1] as string) as string[];
  };
  return { entrypoint: json('ENTRYPOINT'), cmd: json('CMD') };
}
