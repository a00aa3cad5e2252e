/**
 * The Kubernetes example (deploy/kubernetes/tessera.yaml), parsed with a YAML parser (no cluster here): a
 * StatefulSet behind a headless Service that publishes not-ready pods, a claim per pod mounted at the data
 * directory, readiness on /healthz at the HTTP port. The container's start script is run by /bin/sh for
 * several pod names (a stand-in `node` on PATH prints the argv it gets) and the command line plus the
 * container's environment go through the node's real configuration parser: ids from the pod ordinal, the
 * --peers wiring by pod DNS name, and --join with --advertise for pods past the initial members.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OPTIONS, envName, loadNodeConfig, parseHostPort } from '../../src/config';
import { asArray, asRecord, loadYamlDocuments, type Yaml } from './deploy-files';

const PATH = 'deploy/kubernetes/tessera.yaml';
const NAMESPACE = 'prod';
const docs = loadYamlDocuments(PATH);

function find(kind: string, name?: string): Yaml {
  const doc = docs.find(
    (d) => d.kind === kind && (name === undefined || asRecord(d.metadata, 'metadata').name === name),
  );
  if (!doc) throw new Error(`${PATH}: no ${kind} ${name ?? ''}`);
  return doc;
}

const set = find('StatefulSet');
const setSpec = asRecord(set.spec, 'spec');
const podSpec = asRecord(asRecord(setSpec.template, 'template').spec, 'pod spec');
const container = asRecord(asArray(podSpec.containers, 'containers')[0], 'container');
const setName = String(asRecord(set.metadata, 'metadata').name);

/** The container environment; valueFrom filled in as Kubernetes would (namespace, secret). */
function containerEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of asArray(container.env, 'env')) {
    const v = asRecord(e, 'env var');
    const from = v.valueFrom === undefined ? null : asRecord(v.valueFrom, 'valueFrom');
    if (from === null) out[String(v.name)] = String(v.value);
    else if (asRecord(from.fieldRef ?? {}, 'fieldRef').fieldPath === 'metadata.namespace')
      out[String(v.name)] = NAMESPACE;
    else if (from.secretKeyRef !== undefined) out[String(v.name)] = `secret-of-${String(v.name)}`;
    else throw new Error(`env ${String(v.name)}: unexpected valueFrom`);
  }
  return out;
}

const binDir = mkdtempSync(join(tmpdir(), 'tessera-k8s-test-'));
writeFileSync(join(binDir, 'node'), '#!/bin/sh\nprintf "%s\\0" "$@"\n');
chmodSync(join(binDir, 'node'), 0o755);
afterAll(() => rmSync(binDir, { recursive: true, force: true }));

/** Runs the container's command for pod `pod` with a stand-in `node`; returns the argv node got. */
function startArgv(pod: string): string[] {
  const command = asArray(container.command, 'command').map(String);
  const args = asArray(container.args, 'args').map(String);
  const out = execFileSync(command[0] as string, [...command.slice(1), ...args], {
    env: { ...containerEnv(), HOSTNAME: pod, PATH: `${binDir}:/usr/bin:/bin` },
    encoding: 'utf8',
    timeout: 5000,
  });
  return out.split('\0').slice(0, -1);
}

function configOf(pod: string) {
  const argv = startArgv(pod);
  expect(argv.slice(0, 2)).toEqual(['dist/cmd/tessera.js', 'start']);
  return loadNodeConfig({ argv: argv.slice(2), env: containerEnv() });
}

const dns = (ordinal: number) => `${setName}-${ordinal}.${String(setSpec.serviceName)}.${NAMESPACE}.svc.cluster.local`;
const initialNodes = Number(containerEnv().INITIAL_NODES);

describe('deploy/kubernetes/tessera.yaml', () => {
  it('is a StatefulSet behind a headless Service that publishes not-ready pods', () => {
    const headless = asRecord(find('Service', String(setSpec.serviceName)).spec, 'spec');
    expect(headless.clusterIP).toBe('None');
    expect(headless.publishNotReadyAddresses).toBe(true);
    const podLabels = asRecord(asRecord(asRecord(setSpec.template, 'template').metadata, 'meta').labels, 'labels');
    expect(asRecord(setSpec.selector, 'selector').matchLabels).toEqual(podLabels);
    const portNames = asArray(container.ports, 'ports').map((p) => asRecord(p, 'port').name);
    for (const s of docs.filter((d) => d.kind === 'Service' || d.kind === 'PodDisruptionBudget')) {
      const spec = asRecord(s.spec, 'spec');
      const selector = s.kind === 'Service' ? spec.selector : asRecord(spec.selector, 'selector').matchLabels;
      expect(selector, `${String(s.kind)} selects the pods`).toEqual(podLabels);
      for (const p of s.kind === 'Service' ? asArray(spec.ports, 'ports') : [])
        expect(portNames).toContain(asRecord(p, 'port').targetPort);
    }
    expect(setSpec.replicas).toBe(initialNodes);
    expect(setSpec.podManagementPolicy).toBe('Parallel');
  });

  it('mounts a persistent volume claim at the data directory and the auth secret at the auth file', () => {
    const env = containerEnv();
    const mounts = asArray(container.volumeMounts, 'volumeMounts').map((m) => asRecord(m, 'mount'));
    const claims = asArray(setSpec.volumeClaimTemplates, 'claims').map((c) => asRecord(c, 'claim'));
    const claimNames = claims.map((c) => asRecord(c.metadata, 'metadata').name);
    const data = mounts.find((m) => m.mountPath === env.TESSERA_DATA_DIR);
    expect(claimNames).toContain(data?.name);
    expect(asRecord(claims[0]?.spec, 'spec').accessModes).toEqual(['ReadWriteOnce']);
    const auth = mounts.find((m) => m.mountPath === dirname(env.TESSERA_AUTH_FILE ?? ''));
    expect(auth?.readOnly).toBe(true);
    const volume = asArray(podSpec.volumes, 'volumes').find((v) => asRecord(v, 'v').name === auth?.name);
    expect(asRecord(asRecord(volume, 'volume').secret, 'secret').secretName).toBe('tessera-auth');
  });

  it('is ready when /healthz answers, on the node HTTP port', () => {
    const c = configOf(`${setName}-0`);
    const probe = asRecord(asRecord(container.readinessProbe, 'readinessProbe').httpGet, 'httpGet');
    expect(probe.path).toBe('/healthz');
    const port = asArray(container.ports, 'ports')
      .map((p) => asRecord(p, 'port'))
      .find((p) => p.name === probe.port || p.containerPort === probe.port);
    expect(port?.containerPort).toBe(c.http?.port);
    expect(asArray(container.ports, 'ports').map((p) => asRecord(p, 'port').containerPort)).toContain(c.listen.port);
  });

  it('gives a stopping pod time to drain its leaderships before Kubernetes kills it', () => {
    const c = configOf(`${setName}-0`);
    expect(Number(podSpec.terminationGracePeriodSeconds) * 1000).toBeGreaterThanOrEqual(c.shutdownDrainMs + 5000);
  });

  it('uses only node options the parser knows, and no $(VAR) that Kubernetes would expand', () => {
    const known = new Set(OPTIONS.map((o) => envName(o.key)));
    for (const k of Object.keys(containerEnv()).filter((n) => n.startsWith('TESSERA_'))) expect(known).toContain(k);
    const names = Object.keys(containerEnv());
    for (const text of [...asArray(container.command, 'command'), ...asArray(container.args, 'args')])
      for (const m of String(text).matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) expect(names).not.toContain(m[1]);
  });

  it('bootstraps the initial pods with --peers naming every initial pod by DNS name', () => {
    const peers = Array.from({ length: initialNodes }, (_, i) => [i + 1, `${dns(i)}:7001`]);
    for (let ordinal = 0; ordinal < initialNodes; ordinal++) {
      const c = configOf(`${setName}-${ordinal}`);
      expect(c.id).toBe(ordinal + 1);
      expect(c.join).toBe(false);
      expect([...c.peers.entries()]).toEqual(peers);
      expect(c.advertiseAddress).toBe(`${dns(ordinal)}:${c.listen.port}`);
      expect(c.clusterToken).toBe('secret-of-TESSERA_CLUSTER_TOKEN');
      expect(parseHostPort(peers[ordinal]?.[1] as string, 'peer').port).toBe(c.listen.port);
    }
  });

  it('starts a pod added by scaling up with --join and its own DNS name as --advertise', () => {
    for (const ordinal of [initialNodes, initialNodes + 7]) {
      const c = configOf(`${setName}-${ordinal}`);
      expect(c.id).toBe(ordinal + 1);
      expect(c.join).toBe(true);
      expect(c.advertiseAddress).toBe(`${dns(ordinal)}:7001`);
      expect(c.peers.get(1)).toBe(`${dns(0)}:7001`);
      expect(c.peers.size).toBe(initialNodes + 1);
    }
  });
});
