import { withTimeout } from '../../../rateLimit/redis/withTimeout';

describe('withTimeout', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  it('settles like the promise when it settles in time', async () => {
    const answered = withTimeout(Promise.resolve('reply'), 100, () => new Error('late'));

    await expect(answered).resolves.toBe('reply');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('rejects with the timeout error when the promise is late, and swallows its late rejection', async () => {
    let rejectLate: (error: Error) => void = () => undefined;
    const late = new Promise<string>((_resolve, reject) => {
      rejectLate = reject;
    });
    const answered = withTimeout(late, 100, () => new Error('no answer within 100 ms'));

    jest.advanceTimersByTime(99);
    const settled = jest.fn();
    answered.catch(settled);
    await Promise.resolve();
    expect(settled).not.toHaveBeenCalled();

    jest.advanceTimersByTime(1);
    await expect(answered).rejects.toThrow('no answer within 100 ms');
    rejectLate(new Error('connection closed'));
  });
});
