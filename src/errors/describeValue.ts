/**
 * Renders a config value for an error message.
 *
 * @internal
 */
export function describeValue(value: unknown): string {
  if (value === undefined) {
    return 'undefined';
  }
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
