import type { KeyRole } from '../../api/src/auth/roles.ts';
import type { TestApp } from './test-app.ts';

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** A new API key of `role` for `owner`, as request headers. */
export async function keyFor(t: TestApp, role: KeyRole, owner: string) {
  return bearer((await t.services.apiKeys.create(role, owner)).key);
}

/** One key per name, the name as its owner: `keysFor(t, { ann: 'user', mod: 'moderator' })`. */
export async function keysFor<N extends string>(
  t: TestApp,
  roles: Record<N, KeyRole>,
): Promise<Record<N, Record<string, string>>> {
  const keys = {} as Record<N, Record<string, string>>;
  for (const name of Object.keys(roles) as N[]) keys[name] = await keyFor(t, roles[name], name);
  return keys;
}
