import { defineConfig } from 'vitest/config';

// Two groups. "fast": unit, simulator and checker tests, in process, on as many workers as there are
// cores. "processes": integration tests and jepsen-lite suites that start real node processes with real
// election timeouts; they run one file at a time, after the fast group, so that a cluster never shares
// the machine's cores with another cluster or a busy worker (each is bounded by its own timeouts).
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
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
