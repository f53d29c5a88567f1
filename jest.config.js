/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/__tests__/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  testTimeout: 30000,
  // Jest's default on a two-core machine is one worker; most of a file's time is loading Backstage's test
  // utilities, which a second worker overlaps.
  maxWorkers: '100%',
};
