/** Pause between two checks of {@link waitUntil}. */
const POLL_INTERVAL_MS = 20;

/**
 * Resolves once `check` returns true, polling in real time, or rejects after `timeoutMs`.
 *
 * @remarks
 * For what a real process does in its own time (a server restarting, a client reconnecting), where fake timers
 * cannot help.
 */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting until ${what}`);
    }
    await new Promise(resolve => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}
