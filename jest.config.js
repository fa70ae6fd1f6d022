// Two tiers (README, Development):
//   unit: pure code on injected clocks; no sockets, no child processes, no real waiting. Seconds.
//   e2e:  real HTTP to the Kit sandbox, real Redis, real server processes. Files named *.e2e.test.ts.
// `npm test` runs both (CI); `npx jest --selectProjects unit` runs the fast tier alone.

/** Settings both tiers share. */
const common = {
  // Node's environment, plus a worker that ends each file lean (see the file for why).
  testEnvironment: '<rootDir>/test/support/leanWorkerEnvironment.ts',
  // The Kit sandbox's own tests live in its workspace package; they run here with the app's.
  roots: ['<rootDir>/test', '<rootDir>/packages/kit-sandbox/test'],
  // The workspace package as TypeScript source, so tests need no build step (its built dist/ is for `npm start`).
  moduleNameMapper: { '^@convertkit-scim/kit-sandbox$': '<rootDir>/packages/kit-sandbox/src' },
  // Transpile only (isolatedModules is set in tsconfig.json): `npm run typecheck` checks types once.
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 60000,
  maxWorkers: 2,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.e2e\\.test\\.ts$'],
      // Refuses sockets and child processes, so a suite that needs them is renamed *.e2e.test.ts.
      setupFilesAfterEnv: ['<rootDir>/test/support/unitTierGuard.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['**/*.e2e.test.ts'],
      // Only the e2e tier talks to Redis: find it, or start a private redis-server, once per run.
      globalSetup: '<rootDir>/test/support/redisGlobalSetup.ts',
      globalTeardown: '<rootDir>/test/support/redisGlobalTeardown.ts',
    },
  ],
};
