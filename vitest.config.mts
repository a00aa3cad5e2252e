import { defineConfig } from 'vitest/config';

// Three groups, one after the other. "fast": unit, simulator and checker tests, in process, on as many
// workers as there are cores. "processes": integration tests, the harness's own process tests and the
// overload suite, which start real node processes with real election timeouts and check latency bounds:
// one file at a time, so that a cluster never shares the machine's cores with another cluster or a busy
// worker (each is bounded by its own timeouts). "jepsen suites": the jepsen-lite CI runs whose verdicts are
// safety (linearizable, nothing lost, replicas identical) and recovery within seconds, two files at a time:
// one run (3 nodes, the harness, 150 ops/s) uses about 0.6 of a core (16 CPU-s for a 20 s register run
// that takes 23 s alone), so two side by side keep both cores busy instead of one. The placement soak
// (6 nodes, replicas moved, a node drained and one killed) runs with them: its verdicts are placement and
// safety, each wait bounded in tens of seconds, never a latency bound.
// "fast" shares each worker's module cache between its files (isolate: false): about 75 s less of imports
// in CI (171 s against 247 s); none of its files relies on module state left by another.
const JEPSEN_SUITES = [
  'jepsen-lite/test/suite-register.test.ts',
  'jepsen-lite/test/suite-set.test.ts',
  'jepsen-lite/test/suite-hostile.test.ts',
  'jepsen-lite/test/suite-canary.test.ts',
  'jepsen-lite/test/suite-catchup.test.ts',
  'test/integration/placement.test.ts',
];
const PROCESS_SUITES = [
  'test/integration/**/*.test.ts',
  'jepsen-lite/test/suite-*.test.ts',
  'jepsen-lite/test/harness-*.test.ts',
  'test/unit/server/start-process.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
    projects: [
      {
        extends: true,
        test: {
          name: 'fast',
          maxWorkers: 2,
          isolate: false,
          include: ['test/**/*.test.ts', 'jepsen-lite/**/*.test.ts'],
          exclude: PROCESS_SUITES,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'processes',
          include: PROCESS_SUITES,
          exclude: JEPSEN_SUITES,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'jepsen suites',
          include: JEPSEN_SUITES,
          maxWorkers: 2,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
