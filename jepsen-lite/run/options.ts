/**
 * Command-line options of a jepsen-lite run, their defaults (a sensible 60-second run) and parsing.
 * Bad input gets a clear UsageError (exit 2).
 */
import { join } from 'node:path';
import { parseNemesisList, type NemesisKind } from '../nemesis/plan';
import { shardsMax } from '../nemesis/presplit';
import { partitionShapes, type PartitionShape } from '../nemesis/partitions';
import { attackNames, insiderAttacks, type AttackName } from '../hostile/catalogue';
import {
  overloadAttackNames,
  overloadSizeNames,
  type OverloadAttackName,
  type OverloadSizeName,
} from '../overload/catalogue';
import { clientModes, type ClientMode } from '../workload/workers';
import { workloadNames, type WorkloadName } from '../workload/workload';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface RunOptions {
  workload: WorkloadName;
  nemesis: NemesisKind[];
  /** Partition shapes the partition nemesis picks from (default all). */
  partitionShapes: PartitionShape[];
  /** Attacks the hostile nemesis picks from (default all; for an insider, all but a member's powers). */
  attacks: AttackName[];
  /** hostile: an outsider (guesses the cluster id) or an insider (holds it: tests validation behind the handshake). */
  attacker: 'outsider' | 'insider';
  /** Patterns the overload nemesis runs, in this order (default all). */
  overloadAttacks: OverloadAttackName[];
  /** overload: the sizes (full) or the CI suite's (ci). */
  overloadSize: OverloadSizeName;
  timeSeconds: number;
  nodes: number;
  seed: number;
  outDir: string;
  nodeArgs: string[];
  clients: number;
  ratePerSec: number;
  basePort: number;
  clientMode: ClientMode;
  /** Register: keys in use at a time; ops per key before it is retired. */
  keys: number;
  opsPerKey: number;
  /** Shards to cut the workload's keyspace into before the workload starts (1: no split). */
  shards: number;
  /** Quiet time between faults and fault duration, seconds [min, max]. */
  quietSeconds: [number, number];
  faultSeconds: [number, number];
  opTimeoutMs: number;
  /** Seconds to wait for a leader after healing. */
  recoverySeconds: number;
  /** The node command (default: node dist/cmd/tessera.js of this checkout). */
  tesseraCommand: string[] | null;
  /** Skip report.html. */
  noReport: boolean;
}

export const RUN_USAGE = `usage: npm run jepsen -- [options]
       npm run jepsen -- check FILE [--initial JSON]

  --workload register|set|bank     default register
  --nemesis LIST                   kill,pause,partition,slow,transfer,membership,catchup,split,move,restart | all | none
                                   (split: Admin.SplitShard at a seeded key of the workload; move: a data
                                   shard's replica moved to a live node holding none, or its leadership
                                   moved to another replica; restart: graceful SIGTERM restarts, one
                                   node or every node in turn), and hostile
                                   (forged peer messages, malformed input, session and admin abuse;
                                   not part of all), and overload (non-reading clients, scan storms,
                                   /metrics floods, pipelined puts, idle connections at the leader;
                                   not part of all) (default kill,partition)
  --attacks LIST                   hostile: the attacks to draw from (default all: ${attackNames.join(',')});
                                   overload: the patterns to run, in order (default all: ${overloadAttackNames.join(',')})
  --overload-size full|ci          overload: the issue's sizes (default full) or the CI suite's smaller ones
  --attacker outsider|insider      hostile: guess the cluster id (default) or hold it (default attacks then:
                                   all but what a member may do: ${attackNames.filter((a) => !insiderAttacks.includes(a)).join(',')})
  --partition-shapes LIST          isolate-one,isolate-leader,halves,majorities-ring,bridge,one-way (default all)
  --time SECONDS                   fault phase length (default 60)
  --nodes N                        3 or 5 (default 3)
  --seed S                         integer seed of the op generator and the nemesis schedule (default: random, printed)
  --out DIR                        output folder (default jepsen-runs/<workload>-<timestamp>)
  --node-args "FLAGS"              extra flags for every 'tessera start'
  --clients N                      concurrent client workers (default 10)
  --rate R                         target ops per second, all workers together (default 150)
  --base-port P                    first port of the run's block (default 18600; uses 30 + nodes^2 ports)
  --client-mode mixed|all|pinned   client placement (default mixed: half use every node, half read pinned to one)
  --keys K                         register: keys in use at a time (default 8)
  --ops-per-key N                  register: ops per key before it is retired (default 150)
  --shards N                       split the workload's keyspace into about N shards at seeded workload
                                   keys before the workload starts (1..${shardsMax}, default 1: no split)
  --quiet MIN,MAX                  seconds between faults (default 3,6)
  --fault MIN,MAX                  seconds a fault lasts (default 4,8)
  --op-timeout MS                  SDK deadline per operation (default 3000)
  --recovery SECONDS               wait for a leader after healing (default 30)
  --tessera "CMD"                  node command (default: node dist/cmd/tessera.js)
  --no-report                      do not write report.html

exit code: 0 every checker passed, 1 anomaly found, 2 harness error`;

function int(name: string, v: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(v)) throw new UsageError(`${name} needs an integer, got '${v}'`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`${name} must be in ${min}..${max}, got ${n}`);
  return n;
}

function num(name: string, v: string, min: number): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < min)
    throw new UsageError(`${name} needs a number >= ${min}, got '${v}'`);
  return n;
}

function range(name: string, v: string): [number, number] {
  const parts = v.split(',').map((s) => num(name, s, 0));
  if (parts.length !== 2 || parts[0]! > parts[1]!)
    throw new UsageError(`${name} needs MIN,MAX with MIN <= MAX, got '${v}'`);
  return [parts[0]!, parts[1]!];
}

/** Splits a flag string like a shell would for simple cases (whitespace, single or double quotes). */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const m of text.matchAll(re)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

export function defaultOptions(now = new Date()): RunOptions {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  return {
    workload: 'register',
    nemesis: ['kill', 'partition'],
    partitionShapes: [...partitionShapes],
    attacks: [...attackNames],
    attacker: 'outsider',
    overloadAttacks: [...overloadAttackNames],
    overloadSize: 'full',
    timeSeconds: 60,
    nodes: 3,
    seed: Math.floor(Math.random() * 2 ** 31),
    outDir: join('jepsen-runs', `run-${stamp}`),
    nodeArgs: [],
    clients: 10,
    ratePerSec: 150,
    basePort: 18600,
    clientMode: 'mixed',
    keys: 8,
    opsPerKey: 150,
    shards: 1,
    quietSeconds: [3, 6],
    faultSeconds: [4, 8],
    opTimeoutMs: 3000,
    recoverySeconds: 30,
    tesseraCommand: null,
    noReport: false,
  };
}

export function parseRunArgs(argv: readonly string[], now = new Date()): RunOptions {
  const o = defaultOptions(now);
  let outGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const takes = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--workload': {
        const v = takes();
        if (!(workloadNames as readonly string[]).includes(v))
          throw new UsageError(`--workload must be one of ${workloadNames.join(', ')}, got '${v}'`);
        o.workload = v as WorkloadName;
        break;
      }
      case '--nemesis':
        try {
          o.nemesis = parseNemesisList(takes());
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        break;
      case '--partition-shapes': {
        const shapes = takes()
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean);
        for (const x of shapes) {
          if (!(partitionShapes as readonly string[]).includes(x))
            throw new UsageError(`unknown partition shape '${x}' (use ${partitionShapes.join(', ')})`);
        }
        if (shapes.length === 0) throw new UsageError('--partition-shapes needs at least one shape');
        o.partitionShapes = shapes as PartitionShape[];
        break;
      }
      case '--attacks': {
        const list = takes()
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean);
        const overload = list.filter((x) => (overloadAttackNames as readonly string[]).includes(x));
        for (const x of list) {
          if (!(attackNames as readonly string[]).includes(x) && !overload.includes(x))
            throw new UsageError(`unknown attack '${x}' (use ${[...attackNames, ...overloadAttackNames].join(', ')})`);
        }
        if (list.length === 0) throw new UsageError('--attacks needs at least one attack');
        if (overload.length > 0) o.overloadAttacks = overload as OverloadAttackName[];
        if (overload.length < list.length) o.attacks = list.filter((x) => !overload.includes(x)) as AttackName[];
        break;
      }
      case '--overload-size': {
        const v = takes();
        if (!(overloadSizeNames as readonly string[]).includes(v))
          throw new UsageError(`--overload-size must be one of ${overloadSizeNames.join(', ')}, got '${v}'`);
        o.overloadSize = v as OverloadSizeName;
        break;
      }
      case '--attacker': {
        const v = takes();
        if (v !== 'outsider' && v !== 'insider')
          throw new UsageError(`--attacker must be outsider or insider, got '${v}'`);
        o.attacker = v;
        break;
      }
      case '--time':
        o.timeSeconds = num(flag, takes(), 1);
        break;
      case '--nodes':
        o.nodes = int(flag, takes(), 1, 9);
        break;
      case '--seed':
        o.seed = int(flag, takes(), 0, 2 ** 32 - 1);
        break;
      case '--out':
        o.outDir = takes();
        outGiven = true;
        break;
      case '--node-args':
        o.nodeArgs = splitArgs(takes());
        break;
      case '--clients':
        o.clients = int(flag, takes(), 1, 1000);
        break;
      case '--rate':
        o.ratePerSec = num(flag, takes(), 0.1);
        break;
      case '--base-port':
        o.basePort = int(flag, takes(), 1024, 65000);
        break;
      case '--client-mode': {
        const v = takes();
        if (!(clientModes as readonly string[]).includes(v))
          throw new UsageError(`--client-mode must be one of ${clientModes.join(', ')}`);
        o.clientMode = v as ClientMode;
        break;
      }
      case '--keys':
        o.keys = int(flag, takes(), 1, 100000);
        break;
      case '--ops-per-key':
        o.opsPerKey = int(flag, takes(), 1, 100000);
        break;
      case '--shards':
        o.shards = int(flag, takes(), 1, shardsMax);
        break;
      case '--quiet':
        o.quietSeconds = range(flag, takes());
        break;
      case '--fault':
        o.faultSeconds = range(flag, takes());
        break;
      case '--op-timeout':
        o.opTimeoutMs = int(flag, takes(), 50, 600000);
        break;
      case '--recovery':
        o.recoverySeconds = num(flag, takes(), 1);
        break;
      case '--tessera':
        o.tesseraCommand = splitArgs(takes());
        break;
      case '--no-report':
        o.noReport = true;
        break;
      default:
        throw new UsageError(`unknown option '${flag}'`);
    }
  }
  if (o.attacker === 'insider' && !argv.includes('--attacks')) o.attacks = [...insiderAttacks];
  if (!outGiven) o.outDir = join('jepsen-runs', `${o.workload}-${now.toISOString().replace(/[:.]/g, '-')}`);
  if (o.nodes < 3 && o.nemesis.length > 0) throw new UsageError('nemeses need at least 3 nodes');
  return o;
}
