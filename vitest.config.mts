import { defineConfig } from 'vitest/config';

// Unit and simulator tests run in parallel workers; integration and jepsen-lite suites start real
// processes and are bounded by their own timeouts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'jepsen-lite/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
  },
});
