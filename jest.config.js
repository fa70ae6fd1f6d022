/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Transpile only: `npm run typecheck` (tsc) checks types once for the whole project.
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }] },
  globalSetup: '<rootDir>/test/support/redisGlobalSetup.ts',
  globalTeardown: '<rootDir>/test/support/redisGlobalTeardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};
