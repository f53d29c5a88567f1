import { createAuthPolicyRegistry } from '../../authPolicy/createAuthPolicyRegistry';
import { AuthPolicyError, ERROR_CODES } from '../../errors';

describe('createAuthPolicyRegistry', () => {
  it('answers unauthenticated over user-cookie, and later policies apply to later lookups', () => {
    const registry = createAuthPolicyRegistry({ pluginId: 'catalog' });
    expect(registry.lookup('/static/x')).toBeUndefined();
    registry.add({ path: '/static', allow: 'user-cookie' });
    expect(registry.lookup('/static/x')).toBe('user-cookie');
    registry.add({ path: '/static/:file?', allow: 'unauthenticated' });
    expect(registry.lookup('/static/x')).toBe('unauthenticated');
    expect(registry.list()).toEqual([
      { path: '/static', allow: 'user-cookie' },
      { path: '/static/:file?', allow: 'unauthenticated' },
    ]);
  });

  it.each([
    ['/a[b]', 2],
    ['/a{b', 2],
    ['/a?|b', 3],
    ['/a/:id(\\1)', 7],
    ['/a/:id((a+)+)', 10],
    ['/a/:id(\\d+)+', 11],
    ['/*/x/*', 5],
    ['/:a-*.x', 4],
    ['/a/:a:b', 5],
    ['/a(b', 2],
    ['/a)b', 2],
    ['/a\\', 2],
    ['/a\u0000?', 2],
    ['/a/:id(?=x)', 7],
  ])('rejects %j with the code, plugin id, path and position %i', (path, position) => {
    const registry = createAuthPolicyRegistry({ pluginId: 'catalog' });
    let caught: unknown;
    try {
      registry.add({ path, allow: 'unauthenticated' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AuthPolicyError);
    const error = caught as AuthPolicyError;
    expect(error.code).toBe(ERROR_CODES.authPolicy);
    expect(error.position).toBe(position);
    expect(error.message).toContain("plugin 'catalog'");
    expect(error.message).toContain(JSON.stringify(path));
    expect(error.message).toContain(`position ${position}`);
    expect(error.message).toContain('Accepted:');
    expect(registry.list()).toEqual([]);
  });

  it.each([[{ path: '/x', allow: 'everyone' }], [{ path: '', allow: 'unauthenticated' }], [null]])(
    'rejects the policy %j with the code',
    policy => {
      const registry = createAuthPolicyRegistry({ pluginId: 'catalog' });
      expect(() => registry.add(policy)).toThrow(
        expect.objectContaining({ code: ERROR_CODES.authPolicy }),
      );
    },
  );
});
