import type { KeyRole } from '../../api/src/auth/roles.ts';
import type { TestApp } from './test-app.ts';

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** A new API key of `role` for `owner`, as request headers. */
export async function keyFor(t: TestApp, role: KeyRole, owner: string) {
  return bearer((await t.services.apiKeys.create(role, owner)).key);
}
