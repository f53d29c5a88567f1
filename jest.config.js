/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/__tests__/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    // jose 6 (Backstage's auth since backend-defaults 0.19) ships ES modules only, which jest cannot require on
    // Node 20; compiling them to CommonJS goes away once jest loads ES modules from CommonJS.
    '/node_modules/jose/.+\\.js$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022' }, isolatedModules: true },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  testTimeout: 30000,
  // Jest's default on a two-core machine is one worker; most of a file's time is loading Backstage's test
  // utilities, which a second worker overlaps.
  maxWorkers: '100%',
};
