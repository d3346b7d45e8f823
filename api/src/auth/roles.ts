import { AppError } from '../errors.ts';

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

export type Action = 'read' | 'search' | 'click' | 'upload' | 'save' | 'delete' | 'flag' | 'admin';

const ALLOWED: Record<Action, readonly Role[]> = {
  read: ['anonymous', 'user', 'partner', 'moderator', 'admin'],
  search: ['anonymous', 'user', 'partner', 'moderator', 'admin'],
  click: ['anonymous', 'user', 'partner', 'moderator', 'admin'],
  upload: ['user', 'admin'],
  save: ['user', 'admin'],
  delete: ['user', 'moderator', 'admin'],
  flag: ['moderator', 'admin'],
  admin: ['admin'],
};

export interface AuthPolicy {
  /** Single-node local use lets anonymous callers upload. */
  allowAnonymousUploads: boolean;
}

/** The one place resolvers ask "may this caller do that?". Throws a coded error when not. */
export function authorize(caller: Caller, action: Action, policy: AuthPolicy): void {
  if (ALLOWED[action].includes(caller.role)) return;
  if (action === 'upload' && caller.role === 'anonymous' && policy.allowAnonymousUploads) return;
  if (caller.role === 'anonymous') {
    throw new AppError('UNAUTHENTICATED', `An API key is required to ${action}`);
  }
  throw new AppError('FORBIDDEN', `Role ${caller.role} may not ${action}`);
}
