/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  globalSetup: '<rootDir>/test/support/redisGlobalSetup.ts',
  globalTeardown: '<rootDir>/test/support/redisGlobalTeardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};
