/**
 * The mount paths of the plugin routers that count requests with credentials in the all-plugins budgets, per
 * backend. Keyed by the backend's root config, the one object that both the root router and the plugin routers
 * of a backend are given; weak, so that a stopped backend is forgotten.
 */
const mountsByBackend = new WeakMap<object, string[]>();

/**
 * Mount paths whose matching we can mirror exactly: literal segments only, which express 4 matches as a
 * case-insensitive prefix ending at a `/`. A path with parameters or patterns is not recorded, so that its
 * requests are counted at the root rather than risk escaping both layers.
 */
const LITERAL_MOUNT_PATH = /^\/[\w\-.~/]*$/;

function normalize(path: string): string {
  return path.replace(/\/+$/, '').toLowerCase();
}

/**
 * Records that the plugin router mounted at `mountPath` counts every request with credentials it receives in
 * the all-plugins per-principal budgets, so that the all-plugins limiter of the root router need not.
 *
 * @param backend - The backend's root config service.
 * @internal
 */
export function addPrincipalMount(backend: object, mountPath: string): void {
  if (!LITERAL_MOUNT_PATH.test(mountPath) || normalize(mountPath) === '') {
    return;
  }
  const mounts = mountsByBackend.get(backend) ?? [];
  mounts.push(normalize(mountPath));
  mountsByBackend.set(backend, mounts);
}

/**
 * Whether a request for `path` (as the root router sees it) reaches a plugin router recorded by
 * {@link addPrincipalMount}, which then counts it per principal.
 *
 * @internal
 */
export function isUnderPrincipalMount(backend: object, path: string): boolean {
  const mounts = mountsByBackend.get(backend);
  if (!mounts) {
    return false;
  }
  const lower = path.toLowerCase();
  return mounts.some(mount => lower === mount || lower.startsWith(`${mount}/`));
}
