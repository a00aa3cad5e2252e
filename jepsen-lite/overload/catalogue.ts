/**
 * The overload patterns of issue 9 (section 4), by name, and their sizes: `full` is what the issue
 * measured (the CLI default), `ci` is scaled down so the suite in `npm test` stays short on 2 cores.
 * Every size is a bound: every abuser stops by count and by time (its deadline plus a grace), so no
 * pattern can run forever whatever the node does.
 */

export const overloadAttackNames = [
  'non-reader',
  'scan-storm',
  'metrics-flood',
  'pipeline-flood',
  'idle-connections',
] as const;
export type OverloadAttackName = (typeof overloadAttackNames)[number];

export const overloadSizeNames = ['full', 'ci'] as const;
export type OverloadSizeName = (typeof overloadSizeNames)[number];

export interface OverloadSizes {
  /** Keys of bigValueBytes written before the attacks (scan-storm scans them, non-reader gets them). */
  bigKeys: number;
  bigValueBytes: number;
  /** non-reader: streams that never read, puts and gets per stream, how long it keeps sending. */
  nonReaderStreams: number;
  nonReaderOps: number;
  nonReaderMs: number;
  /** scan-storm: concurrent whole-range Scan calls. */
  scans: number;
  /** metrics-flood: GET /metrics requests and how many at a time. */
  metricsRequests: number;
  metricsConcurrency: number;
  /** metrics-flood: no new request starts after this long (a node that renders slowly gets fewer). */
  metricsFloodMs: number;
  /** pipeline-flood: puts, sent at once over this many Pipeline streams. */
  pipelinePuts: number;
  pipelineStreams: number;
  /** idle-connections: sockets to the HTTP port (half send nothing, half half a header), held this long. */
  idleSockets: number;
  idleHoldMs: number;
  /** Deadline of one abusive call (the node is told it: grpc-timeout); past it plus graceMs it counts as hung. */
  callDeadlineMs: number;
  graceMs: number;
  /** Quiet time before each attack (the node settles, the bystander runs alone). */
  quietMs: number;
  /** Verdict (c): the bystander's p99 latency during an attack must stay below this. */
  bystanderP99BoundMs: number;
}

export const overloadSizes: Record<OverloadSizeName, OverloadSizes> = {
  full: {
    bigKeys: 2000,
    bigValueBytes: 64 * 1024,
    nonReaderStreams: 8,
    nonReaderOps: 4000,
    nonReaderMs: 20_000,
    scans: 300,
    metricsRequests: 10_000,
    metricsConcurrency: 200,
    metricsFloodMs: 120_000,
    pipelinePuts: 100_000,
    pipelineStreams: 2000,
    idleSockets: 1000,
    idleHoldMs: 30_000,
    callDeadlineMs: 30_000,
    graceMs: 5000,
    quietMs: 3000,
    bystanderP99BoundMs: 100,
  },
  // CI machines are slow and shared (2 cores for three nodes, the harness and the abusers): the bystander
  // bound is generous there; the full run keeps the 100 ms.
  ci: {
    bigKeys: 160,
    bigValueBytes: 64 * 1024,
    nonReaderStreams: 4,
    nonReaderOps: 1500,
    nonReaderMs: 5000,
    scans: 150,
    metricsRequests: 1500,
    metricsConcurrency: 200,
    metricsFloodMs: 15_000,
    pipelinePuts: 20_000,
    pipelineStreams: 400,
    idleSockets: 1000,
    idleHoldMs: 15_000,
    callDeadlineMs: 10_000,
    graceMs: 2000,
    quietMs: 1500,
    bystanderP99BoundMs: 1000,
  },
};

export const BIG_KEY_PREFIX = 'overload/big/';
export const bigKey = (i: number): string => `${BIG_KEY_PREFIX}${String(i).padStart(6, '0')}`;

/** What became of one abusive client (a call, a stream, a socket, an HTTP request). */
export type AbuserOutcome =
  /** Answered normally. */
  | 'ok'
  /** Refused by the node: RESOURCE_EXHAUSTED (gRPC), 429 or 503 (HTTP). */
  | 'refused'
  /** Ended by the node: another status, a reset stream, a closed socket. */
  | 'closed'
  /** The call's deadline passed without an answer (the node was told the deadline). */
  | 'deadline'
  /** Nothing from the node by the abuser's hard bound: it would have waited forever. */
  | 'hung';

export const boundedOutcomes: readonly AbuserOutcome[] = ['ok', 'refused', 'closed'];

export interface AttackReport {
  attack: OverloadAttackName;
  /** How many abusive clients (calls, streams, sockets, requests) it ran. */
  abusers: number;
  outcomes: Partial<Record<AbuserOutcome, number>>;
  /** Short facts (status codes seen, bytes sent, per-op counts). */
  notes: string[];
  elapsedMs: number;
}

/** Where an attack aims: the node's real client port and its HTTP port (never through the test proxies). */
export interface AttackTarget {
  grpcAddress: string;
  httpHost: string;
  httpPort: number;
}
