/**
 * The table of node options: one row per setting, naming its flag (`--heartbeat-ms`), its environment
 * variable (`TESSERA_HEARTBEAT_MS`) and its config-file key (`heartbeatMs`). Flags, env and file are only
 * different spellings of the same row, so they cannot drift apart.
 */
export type OptionKind = 'int' | 'string' | 'bool' | 'peers' | 'hostport';

export interface OptionSpec {
  /** Config-file key (camelCase). */
  key: string;
  kind: OptionKind;
  help: string;
  /** Allowed values for a string option. */
  values?: readonly string[];
}

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'config', kind: 'string', help: 'JSON config file; its keys are the camelCase option names' },
  { key: 'id', kind: 'int', help: 'this node id (positive integer), required' },
  {
    key: 'listen',
    kind: 'hostport',
    help: 'HOST:PORT of the gRPC server (KV, Admin; Raft peers too unless --peer-listen), required',
  },
  {
    key: 'peerListen',
    kind: 'hostport',
    help: 'HOST:PORT of a separate listener for Raft peers only; --peers then names peer addresses (default: off, peers use --listen)',
  },
  {
    key: 'clusterToken',
    kind: 'string',
    help: 'secret shared by every member, joining ones too; the cluster id is derived from it (default: derived from --peers, guessable)',
  },
  {
    key: 'tlsCert',
    kind: 'string',
    help: 'PEM certificate the client listener presents (with --tls-key; enables TLS for clients)',
  },
  { key: 'tlsKey', kind: 'string', help: 'PEM private key of --tls-cert' },
  {
    key: 'tlsCa',
    kind: 'string',
    help: 'PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS)',
  },
  {
    key: 'peerTlsCert',
    kind: 'string',
    help: 'PEM certificate for peer traffic; its CN or a SAN must be node-<id> (mutual TLS with --peer-tls-key/--peer-tls-ca)',
  },
  { key: 'peerTlsKey', kind: 'string', help: 'PEM private key of --peer-tls-cert' },
  { key: 'peerTlsCa', kind: 'string', help: 'PEM CA bundle that signs every peer certificate' },
  {
    key: 'authFile',
    kind: 'string',
    help: 'JSON auth file (users, roles, key prefixes, token secret; see tessera user add): every client call then needs a token (default: off)',
  },
  { key: 'peers', kind: 'peers', help: 'ID=HOST:PORT,... every initial member including this node, required' },
  { key: 'dataDir', kind: 'string', help: 'data directory (LevelDB lives in DIR/db), required' },
  { key: 'http', kind: 'hostport', help: 'HOST:PORT for /metrics and /healthz (default: off)' },
  {
    key: 'join',
    kind: 'bool',
    help: 'join an existing cluster (be added with Admin.AddNode) instead of bootstrapping',
  },
  {
    key: 'advertise',
    kind: 'string',
    help: 'HOST:PORT others use for this node (default: its --peers entry, else --listen)',
  },
  {
    key: 'profile',
    kind: 'string',
    values: ['default', 'low-latency'],
    help: 'timing profile: default (100/1000 ms) or low-latency (20/200 ms)',
  },
  { key: 'heartbeatMs', kind: 'int', help: 'leader heartbeat interval in ms (default 100)' },
  { key: 'electionMs', kind: 'int', help: 'minimum election timeout in ms, randomized up to 2x (default 1000)' },
  { key: 'tickMs', kind: 'int', help: 'Raft tick period in ms (default: heartbeat / 2, at least 5)' },
  { key: 'keyBytesMax', kind: 'int', help: 'largest key in bytes (default 4096)' },
  { key: 'valueBytesMax', kind: 'int', help: 'largest value in bytes (default 1048576)' },
  { key: 'batchOpsMax', kind: 'int', help: 'most operations in one Batch (default 128)' },
  { key: 'batchBytesMax', kind: 'int', help: 'largest Batch in bytes of keys and values (default 4194304)' },
  { key: 'scanItemsMax', kind: 'int', help: 'most items in one Scan page (default 10000)' },
  { key: 'scanBytesMax', kind: 'int', help: 'most bytes in one Scan page (default 4194304)' },
  { key: 'proposalsMax', kind: 'int', help: 'pending proposals per group before RESOURCE_EXHAUSTED (default 8192)' },
  {
    key: 'readsMax',
    kind: 'int',
    help: 'pending linearizable reads per group before RESOURCE_EXHAUSTED (default 8192)',
  },
  { key: 'outboxMessagesMax', kind: 'int', help: 'queued Raft messages per peer before dropping (default 4096)' },
  { key: 'preVote', kind: 'bool', help: 'Raft PreVote (default true)' },
  { key: 'checkQuorum', kind: 'bool', help: 'Raft CheckQuorum (default true)' },
  {
    key: 'lazyCommit',
    kind: 'bool',
    help: 'followers learn a new commit index with the next append or heartbeat, not an extra message (default true)',
  },
  { key: 'inflightMessagesMax', kind: 'int', help: 'AppendEntries in flight per follower (default 256)' },
  {
    key: 'inflightBytesMax',
    kind: 'int',
    help: 'entry bytes of the AppendEntries in flight per follower (default memoryBudgetMib / 16, min 1024)',
  },
  { key: 'appendBytesMax', kind: 'int', help: 'entry bytes per AppendEntries (default 1048576)' },
  { key: 'uncommittedBytesMax', kind: 'int', help: 'uncommitted entry bytes a leader accepts (default 67108864)' },
  { key: 'snapshotEntries', kind: 'int', help: 'compact the log past this many entries (default 10000)' },
  {
    key: 'logRetainEntries',
    kind: 'int',
    help: 'entries kept behind the applied index at compaction (default snapshotEntries / 10)',
  },
  {
    key: 'snapshotBytes',
    kind: 'int',
    help: 'compact the log once its applied entries hold more bytes than this (default memoryBudgetMib / 8, min 1 MiB, at most half the budget)',
  },
  {
    key: 'balanceLeaders',
    kind: 'bool',
    help: 'move shard leaderships between nodes so that each leads about as many shards (default true)',
  },
  {
    key: 'placement',
    kind: 'bool',
    help: 'run the placement driver when this node leads the meta shard (default true; false: replicas only change by hand, e.g. tessera member add)',
  },
  {
    key: 'replicas',
    kind: 'int',
    help: 'voters per shard that the placement driver keeps on distinct live nodes (default 3)',
  },
  {
    key: 'deadNodeTimeoutMs',
    kind: 'int',
    help: 'a node silent for longer is dead and its replicas are re-created on live nodes (default 300000 = 5 min)',
  },
  {
    key: 'placementIntervalMs',
    kind: 'int',
    help: 'how often the meta leader polls nodes and plans replica and leader moves (default 1000)',
  },
  {
    key: 'splitMaxKeys',
    kind: 'int',
    help: 'split a shard automatically once it holds more keys than this (default 960000, like TiKV; 0: never by keys)',
  },
  {
    key: 'splitMaxBytes',
    kind: 'int',
    help: 'split a shard automatically once its keys and values hold more bytes than this (default 100663296 = 96 MiB, like TiKV; 0: never by bytes)',
  },
  { key: 'snapshotChunkBytes', kind: 'int', help: 'InstallSnapshot chunk size in bytes (default 1048576)' },
  { key: 'sessionsMax', kind: 'int', help: 'client sessions remembered per group (default 100000)' },
  {
    key: 'sessionsNewPerClientPerSecond',
    kind: 'int',
    help: 'new client sessions one client address may open per second (burst 10x; default 100)',
  },
  {
    key: 'sessionTtlMs',
    kind: 'int',
    help: 'forget a client session unused this long, in log time (default 3600000, min 60000)',
  },
  {
    key: 'requestTimeoutMs',
    kind: 'int',
    help: 'longest wait for commit or read index without a client deadline (default 10000)',
  },
  {
    key: 'shutdownDrainMs',
    kind: 'int',
    help: 'on SIGTERM, move leaderships off this node for at most this long before it stops (default 5000; 0: stop at once)',
  },
  {
    key: 'memoryBudgetMib',
    kind: 'int',
    help: 'memory budget of the node in MiB; bytes in flight, per-stream and per-connection buffers and Scan pages derive from it (default 512, min 64)',
  },
  {
    key: 'connectionsMax',
    kind: 'int',
    help: 'open client connections on --listen; more are refused at once (default 1024, min 8, max 1000000)',
  },
  {
    key: 'unsafeStaleReads',
    kind: 'bool',
    help: 'TEST ONLY, UNSAFE: serve linearizable reads locally without ReadIndex',
  },
  {
    key: 'logLevel',
    kind: 'string',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    help: 'pino log level (default info)',
  },
];

/** heartbeatMs -> --heartbeat-ms */
export function flagName(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** heartbeatMs -> TESSERA_HEARTBEAT_MS */
export function envName(key: string): string {
  return 'TESSERA_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

/** The argument placeholder shown after a flag in --help. */
function argPlaceholder(o: OptionSpec): string {
  if (o.kind === 'bool') return '[=true|false]';
  if (o.kind === 'int') return ' N';
  if (o.kind === 'peers') return ' ID=HOST:PORT,...';
  if (o.kind === 'hostport' || o.key === 'advertise') return ' HOST:PORT';
  if (o.values) return ` ${o.values.join('|')}`.slice(0, 24);
  if (o.key === 'dataDir') return ' DIR';
  if (o.key === 'config' || o.key === 'authFile' || /^(peerT|t)ls/.test(o.key)) return ' FILE';
  if (o.key === 'clusterToken') return ' SECRET';
  return ' VALUE';
}

export function optionUsage(): string {
  return OPTIONS.map((o) => {
    if (o.key === 'logLevel') return `  ${'--log-level LEVEL'.padEnd(34)} ${o.help} [env ${envName(o.key)}]`;
    return `  ${(flagName(o.key) + argPlaceholder(o)).padEnd(34)} ${o.help} [env ${envName(o.key)}]`;
  }).join('\n');
}
