/**
 * One jepsen-lite run, start to finish: start the cluster behind the fault proxies, set up the workload,
 * run the client workers and the seeded nemesis for --time seconds, stop the workers, heal everything,
 * wait for a leader (re-adding removed members), do the final reads, stop the cluster, check the
 * history, and write results.json and report.html into the run folder.
 *
 * Invariants: the cluster is always stopped (node processes and proxies) before run() returns or
 * throws; the history file is complete (flushed) before it is checked; a HarnessError means the test
 * could not be run (exit 2), never that Tessera misbehaved.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Random } from '../../src/base';
import { Client } from '../../src/client';
import { countOperations, pairOperations } from '../history';
import { Cluster, clusterTokenOf } from '../cluster/cluster';
import { repoRoot } from '../cluster/repo-root';
import { NemesisLog } from '../nemesis/nemesis-log';
import { describeFault, planFaults } from '../nemesis/plan';
import { NemesisRunner } from '../nemesis/runner';
import { splitKeyPicker } from '../nemesis/split-keys';
import { preSplit, preSplitKeys } from '../nemesis/presplit';
import { nemesisNodeArgs } from '../nemesis/catchup';
import { partitionShapes } from '../nemesis/partitions';
import { HistoryRecorder } from '../workload/recorder';
import { runOp, planWorkers, WorkerPool } from '../workload/workers';
import { BankWorkload, defaultBankOptions } from '../workload/bank';
import { RegisterWorkload, defaultRegisterOptions } from '../workload/register';
import { SetWorkload, defaultSetOptions } from '../workload/set';
import type { KvClient, Workload } from '../workload/workload';
import type { RunOptions } from './options';
import { judge, overall, type CheckerVerdict, type RecoveryFacts, type Validity } from './verdicts';
import { availabilityVerdict, divergenceVerdict } from './verdicts';
import type { DivergenceResult } from '../checker/divergence';
import { checkDivergenceAllShards } from '../checker/divergence-shards';
import { renderReport } from './report';
import type { LinearizabilityResult } from '../checker';
import { HostileNemesis, defaultAttackPlan, planAttacks, type HostileVerdict } from '../hostile/hostile-nemesis';
import { attackNames, insiderAttacks } from '../hostile/catalogue';
import { deriveClusterId } from '../../src/storage';
import type { NodeDoor } from '../hostile/cluster-view';
import { overloadAttackNames } from '../overload/catalogue';
import { overloadForRun } from '../overload/from-run';
import type { OverloadNemesis } from '../overload/overload-nemesis';

export class HarnessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HarnessError';
  }
}

export interface RunResult {
  valid: Validity;
  verdicts: CheckerVerdict[];
  outDir: string;
  summary: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function makeWorkload(o: RunOptions): Workload {
  switch (o.workload) {
    case 'register':
      return new RegisterWorkload({ ...defaultRegisterOptions, keys: o.keys, opsPerKey: o.opsPerKey });
    case 'set':
      return new SetWorkload(defaultSetOptions);
    case 'bank':
      return new BankWorkload(defaultBankOptions);
  }
}

export function replayCommand(o: RunOptions): string {
  const parts = [
    'npm run jepsen --',
    `--workload ${o.workload}`,
    `--nemesis ${o.nemesis.length ? o.nemesis.join(',') : 'none'}`,
    `--time ${o.timeSeconds}`,
    `--nodes ${o.nodes}`,
    `--seed ${o.seed}`,
    `--clients ${o.clients}`,
    `--rate ${o.ratePerSec}`,
    `--client-mode ${o.clientMode}`,
  ];
  if (o.partitionShapes.length !== partitionShapes.length)
    parts.push(`--partition-shapes ${o.partitionShapes.join(',')}`);
  if (o.nemesis.includes('hostile') && o.attacker === 'insider') parts.push('--attacker insider');
  if (
    o.nemesis.includes('hostile') &&
    o.attacks.length !== (o.attacker === 'insider' ? insiderAttacks : attackNames).length
  )
    parts.push(`--attacks ${o.attacks.join(',')}`);
  if (o.nemesis.includes('overload') && o.overloadAttacks.length !== overloadAttackNames.length)
    parts.push(`--attacks ${o.overloadAttacks.join(',')}`);
  if (o.nemesis.includes('overload') && o.overloadSize !== 'full') parts.push(`--overload-size ${o.overloadSize}`);
  if (o.workload === 'register') parts.push(`--keys ${o.keys}`, `--ops-per-key ${o.opsPerKey}`);
  if (o.shards > 1) parts.push(`--shards ${o.shards}`);
  parts.push(`--quiet ${o.quietSeconds.join(',')}`, `--fault ${o.faultSeconds.join(',')}`);
  if (o.nodeArgs.length) parts.push(`--node-args "${o.nodeArgs.join(' ')}"`);
  return parts.join(' ');
}

/** The --shards hint: the workload's keyspace cut at seeded workload keys before the workload starts. */
async function splitKeyspace(
  o: RunOptions,
  cluster: Cluster,
  rng: Random,
  nemesisLog: NemesisLog,
  log: (line: string) => void,
) {
  const picker = splitKeyPicker({ workload: o.workload, keys: o.keys, writesExpected: o.ratePerSec * o.timeSeconds });
  const r = await preSplit(cluster, preSplitKeys(picker, o.shards, rng), rng);
  for (const d of r.done) nemesisLog.write({ type: 'instant', kind: 'shards', description: `pre-${d}` });
  for (const e of r.failed) nemesisLog.write({ type: 'error', kind: 'shards', description: 'pre-split', error: e });
  log(
    `shards: ${r.done.length + 1} of ${o.shards} asked for (${r.done.length} splits${r.failed.length ? `, ${r.failed.length} refused: ${r.failed[0]}` : ''})`,
  );
}

export async function runTest(o: RunOptions, log: (line: string) => void): Promise<RunResult> {
  const outDir = resolve(o.outDir);
  mkdirSync(outDir, { recursive: true });
  const t0 = process.hrtime.bigint();
  const nowNs = (): number => Number(process.hrtime.bigint() - t0);
  const nowMs = (): number => nowNs() / 1e6;
  const root = repoRoot();
  const command = o.tesseraCommand ?? [process.execPath, join(root, 'dist', 'cmd', 'tessera.js')];
  const rng = new Random(o.seed);
  const nemesisRng = rng.fork();
  const workerRng = rng.fork();
  const hostileRng = rng.fork();
  const shardsRng = rng.fork();
  writeFileSync(join(outDir, 'options.json'), JSON.stringify({ ...o, replay: replayCommand(o) }, null, 2));

  const cluster = new Cluster({
    plan: { nodes: o.nodes, basePort: o.basePort },
    outDir,
    command,
    nodeArgs: [...nemesisNodeArgs(o.nemesis, o.nodeArgs), ...o.nodeArgs],
    cwd: root,
    now: nowMs,
  });
  const recorder = new HistoryRecorder(join(outDir, 'history.jsonl'), nowNs);
  const nemesisLog = new NemesisLog(join(outDir, 'nemesis.jsonl'), nowNs);
  const workload = makeWorkload(o);
  const makeClient = (endpoints: string[]): KvClient => new Client({ endpoints, deadlineMs: o.opTimeoutMs });
  let recovery: RecoveryFacts = { leaderFound: false, recoveryMs: null, finalOps: 0, finalOk: 0, okOpsDuringRun: 0 };
  let hostile: HostileNemesis | null = null;
  let hostileVerdict: HostileVerdict | null = null;
  let overload: OverloadNemesis | null = null;
  let divergence: DivergenceResult | null = null;

  try {
    try {
      await cluster.start();
    } catch (e) {
      throw new HarnessError(`cannot start the cluster (ports ${o.basePort}..): ${(e as Error).message}`);
    }
    log(`cluster: ${o.nodes} nodes (${command.join(' ')}), logs in ${join(outDir, 'nodes')}`);
    const first = await cluster.waitForLeader(60_000);
    if (!first)
      throw new HarnessError(`no leader within 60 s of starting the cluster; see ${join(outDir, 'nodes')}/*/node.log`);
    log(`leader: node ${first.leader} (term ${first.term}) after ${Math.round(nowMs())} ms`);

    const setupClient = makeClient(cluster.network.clientEndpoints());
    try {
      await workload.setup(setupClient, 20_000);
    } catch (e) {
      throw new HarnessError(`workload setup failed: ${(e as Error).message}`);
    } finally {
      await setupClient.close();
    }

    if (o.shards > 1) await splitKeyspace(o, cluster, shardsRng, nemesisLog, log);

    const specs = planWorkers(o.clients, cluster.network.clientEndpoints(), o.clientMode, workload.pinnedReaders);
    const pool = new WorkerPool({
      workload,
      recorder,
      specs,
      makeClient: (s) => makeClient(s.endpoints),
      rng: workerRng,
      ratePerSec: o.ratePerSec,
      opTimeoutMs: o.opTimeoutMs,
    });
    const phaseStartMs = nowMs();
    const plan = planFaults(nemesisRng, {
      kinds: o.nemesis,
      activeMs: o.timeSeconds * 1000,
      quietMs: [o.quietSeconds[0] * 1000, o.quietSeconds[1] * 1000],
      faultMs: [o.faultSeconds[0] * 1000, o.faultSeconds[1] * 1000],
      partitionShapes: o.partitionShapes,
      splitKey: splitKeyPicker({ workload: o.workload, keys: o.keys, writesExpected: o.ratePerSec * o.timeSeconds }),
    });
    log(
      `nemesis plan: ${plan.length ? plan.map((p) => `${(p.startMs / 1000).toFixed(1)}s ${describeFault(p.fault)}`).join('; ') : 'none'}`,
    );
    const nemesis = new NemesisRunner(cluster, plan, nemesisRng, nemesisLog, () => nowMs() - phaseStartMs);
    if (o.nemesis.includes('hostile')) {
      // The attacker dials the nodes' real ports: it stands outside the test network, like the operator.
      const doors: NodeDoor[] = cluster.ids.map((id) => ({
        id,
        clientAddress: cluster.network.nodeAddress(id),
        peerAddress: null,
      }));
      const attacks = planAttacks(hostileRng, { ...defaultAttackPlan, attacks: o.attacks });
      hostile = new HostileNemesis(
        doors,
        attacks,
        hostileRng,
        {
          pause: (id) => cluster.pause([id]),
          resume: (id) => cluster.resume([id]),
          readd: async (leader, id) => {
            cluster.removed.add(id); // re-added in the final recovery if this fails
            await cluster.addMember(leader, id);
          },
        },
        nemesisLog,
        1000,
        o.attacker === 'insider' ? deriveClusterId(clusterTokenOf(o.basePort), new Map()) : undefined,
      );
      await hostile.prepare(async () => {
        const l = await cluster.leader();
        return l ? (doors.find((d) => d.id === l.leader) ?? null) : null;
      });
      log(
        `hostile: up to ${attacks.length} attacks in this order (each after a short gap, until --time ends): ${attacks.map((a) => a.attack).join(', ')}`,
      );
    }
    if (o.nemesis.includes('overload')) {
      overload = overloadForRun(cluster, o, nemesisLog, log, nowMs);
      await overload.prepare();
      log(`overload: ${o.overloadAttacks.join(', ')} (${o.overloadSize} sizes, budget ${overload.budgetMiB} MiB)`);
    }
    pool.start();
    const nemesisDone = nemesis.run();
    const hostileDone = hostile?.run();
    const overloadDone = overload?.run();
    await sleep(o.timeSeconds * 1000);
    nemesis.stop();
    hostile?.stop();
    overload?.stop();
    await nemesisDone;
    await hostileDone;
    await overloadDone;
    await pool.stop();
    log(`workload phase done: ${recorder.events.length} events`);

    // Heal everything, wait for recovery, then the final reads.
    cluster.recoverProcessesAndNetwork();
    nemesisLog.write({ type: 'heal', kind: 'heal', description: 'heal network, continue paused, restart killed' });
    const healAt = nowMs();
    let leader = await cluster.waitForLeader(o.recoverySeconds * 1000);
    for (const id of [...cluster.removed]) {
      if (!leader) break;
      try {
        await cluster.addMember(leader.leader, id, leader.groupId);
        nemesisLog.write({ type: 'heal', kind: 'membership', description: `re-add node ${id}`, nodes: [id] });
      } catch (e) {
        nemesisLog.write({
          type: 'error',
          kind: 'membership',
          description: `re-add node ${id}`,
          error: (e as Error).message,
        });
      }
      leader = await cluster.waitForLeader(o.recoverySeconds * 1000);
    }
    const recoveryMs = leader ? Math.round(nowMs() - healAt) : null;
    log(
      leader
        ? `recovered: leader node ${leader.leader} ${recoveryMs} ms after heal`
        : `NO leader ${o.recoverySeconds} s after heal`,
    );
    const finalClient = makeClient(cluster.network.clientEndpoints());
    const finalOps = workload.finalOps();
    let finalOk = 0;
    const finalDeadline = nowMs() + o.recoverySeconds * 1000;
    for (const op of finalOps) {
      let ok = false;
      while (!ok && nowMs() < finalDeadline) {
        const p = recorder.newProcess();
        const c = await runOp(workload, recorder, finalClient, p, op, Math.max(o.opTimeoutMs, 5000));
        ok = c.type === 'ok';
        if (!ok) await sleep(200);
      }
      if (ok) finalOk++;
    }
    await finalClient.close();
    // No writes are in flight now: every member must reach one applied index and hold the same data there.
    divergence = leader
      ? await checkDivergenceAllShards(cluster, { budgetMs: o.recoverySeconds * 1000, intervalMs: 250 })
      : null;
    log(`divergence: ${divergence?.summary ?? 'not run (no leader)'}`);
    if (hostile) {
      hostileVerdict = await hostile.verdict();
      log(`hostile: ${hostileVerdict.summary}`);
    }
    const okOpsDuringRun = pairOperations(recorder.events).filter((x) => x.outcome === 'ok').length - finalOk;
    recovery = { leaderFound: leader !== null, recoveryMs, finalOps: finalOps.length, finalOk, okOpsDuringRun };
    log(`final reads: ${finalOk}/${finalOps.length} ok`);
  } finally {
    recorder.close();
    await hostile?.close();
    overload?.stop();
    await cluster.stop();
  }

  const t1 = performance.now();
  const verdicts = judge({
    workload: o.workload,
    events: recorder.events,
    bank: workload instanceof BankWorkload ? { total: workload.total, accounts: workload.accounts } : undefined,
    unexpectedExits: cluster.unexpectedExits(),
    recovery,
    checkTimeLimitMs: 60_000,
  });
  verdicts.push(divergenceVerdict(divergence));
  const availability = availabilityVerdict(nemesisLog.events);
  if (availability) verdicts.push(availability);
  if (hostileVerdict)
    verdicts.push({
      name: 'hostile',
      valid: hostileVerdict.valid,
      summary: hostileVerdict.summary,
      detail: hostileVerdict.detail,
    });
  if (overload) verdicts.push(...overload.verdicts(recorder.events));
  const checkMs = Math.round(performance.now() - t1);
  const valid = overall(verdicts);
  const ops = pairOperations(recorder.events);
  const counts = countOperations(recorder.events, ops);
  const summary = `${o.workload} / nemesis ${o.nemesis.join(',') || 'none'} / ${o.timeSeconds}s / seed ${o.seed}: ${
    valid === true ? 'PASS' : valid === false ? 'ANOMALY' : 'INCONCLUSIVE'
  } (${counts.byOutcome.ok} ok, ${counts.byOutcome.fail} fail, ${counts.byOutcome.info} info; checked in ${checkMs} ms)`;
  const linearizability = verdicts.find((v) => v.name === 'linearizable')?.detail as LinearizabilityResult | undefined;
  const results = {
    valid,
    summary,
    replay: replayCommand(o),
    seed: o.seed,
    options: o,
    durationMs: Math.round(nowMs()),
    checkMs,
    counts,
    verdicts: verdicts.map((v) => ({ name: v.name, valid: v.valid, summary: v.summary })),
    anomalies:
      linearizability?.anomalies ??
      verdicts
        .filter((v) => v.valid === false && v.name !== 'recovery')
        .map((v) => ({ checker: v.name, detail: v.detail })),
    checkerDetails: Object.fromEntries(verdicts.map((v) => [v.name, v.detail])),
    nemesis: nemesisLog.events,
    unexpectedExits: cluster.unexpectedExits(),
  };
  writeFileSync(join(outDir, 'results.json'), JSON.stringify(results, null, 2));
  if (!o.noReport) {
    writeFileSync(
      join(outDir, 'report.html'),
      renderReport({
        title: `jepsen-lite: ${o.workload} (${o.nemesis.join(',') || 'no nemesis'})`,
        events: recorder.events,
        nemesis: nemesisLog.events,
        verdicts,
        options: o,
        summary,
        anomalies: linearizability?.anomalies ?? [],
      }),
    );
  }
  return { valid, verdicts, outDir, summary };
}
