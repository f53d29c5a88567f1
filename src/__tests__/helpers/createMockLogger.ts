import type { LoggerService } from '@backstage/backend-plugin-api';

/** A logger of jest mocks, for tests that need no backend: loading @backstage/backend-test-utils is slow. */
export function createMockLogger(): jest.Mocked<LoggerService> {
  const logger = {
    error: jest.fn(),
    warn: jest.fn(),
    info: jest.fn(),
    debug: jest.fn(),
    child: jest.fn(),
  };
  logger.child.mockReturnValue(logger);
  return logger;
}
