export type Role = 'anonymous' | 'user' | 'partner' | 'moderator' | 'admin';
export const KEY_ROLES = ['user', 'partner', 'moderator', 'admin'] as const;
export type KeyRole = (typeof KEY_ROLES)[number];

/** Who is calling: resolved once per request from the API key. */
export interface Caller {
  role: Role;
  /** The key's owner (a user id); null for anonymous callers. */
  ownerId: string | null;
  keyId: string | null;
}

export const ANONYMOUS: Caller = { role: 'anonymous', ownerId: null, keyId: null };

export type { Action, AuthPolicy } from './authorize.ts';
// the rules moved to authorize.ts; this re-export keeps imports of branches in flight working
export { authorize } from './authorize.ts';
