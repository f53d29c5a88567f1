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
  // Most test time waits on Redis, sockets and timers rather than the CPU: on two cores, three workers finish first.
  maxWorkers: 3,
};
