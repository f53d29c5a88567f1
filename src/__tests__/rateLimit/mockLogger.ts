import type { LoggerService } from '@backstage/backend-plugin-api';

/** A logger of jest mocks, so that unit tests need not load Backstage's test utilities for one. */
export function mockLogger(): jest.Mocked<LoggerService> {
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
