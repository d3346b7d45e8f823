import { AppError } from '../errors.ts';
import { ANONYMOUS_UPLOADER_PREFIX } from '../upload/anonymous-uploader.ts';
import type { Caller, Role } from './roles.ts';

/**
 * Who may do what: every role rule and ownership rule of the API, in this one file. Resolvers
 * call `authorize` (and the ownership checks whose inputs they hold) first thing; services call
 * the ownership checks that need a stored row (`authorizeDelete`).
 */
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

const NO_ANONYMOUS_UPLOADS = { allowAnonymousUploads: false };

export interface AuthPolicy {
  /** Single-node local use lets anonymous callers upload. */
  allowAnonymousUploads: boolean;
}

/** The one place resolvers ask "may this caller do that?". Throws a coded error when not. */
export function authorize(caller: Caller, action: Action, policy: AuthPolicy = NO_ANONYMOUS_UPLOADS): void {
  if (ALLOWED[action].includes(caller.role)) return;
  if (action === 'upload' && caller.role === 'anonymous' && policy.allowAnonymousUploads) return;
  if (caller.role === 'anonymous') {
    throw new AppError('UNAUTHENTICATED', `An API key is required to ${action}`);
  }
  throw new AppError('FORBIDDEN', `Role ${caller.role} may not ${action}`);
}

/**
 * The uploader of the caller's uploads: the key's owner, for anonymous callers the id derived from
 * their address (app.ts withAnonymousOwner), `anonymous` when it is unknown (in-process). Never an
 * argument: a caller cannot upload as someone else.
 */
export function uploaderOf(caller: Caller, policy: AuthPolicy): string {
  authorize(caller, 'upload', policy);
  return caller.ownerId ?? ANONYMOUS_UPLOADER_PREFIX;
}

/** The user a save is recorded for: the key's owner (saving is for keys only). */
export function saverOf(caller: Caller, policy: AuthPolicy): string {
  authorize(caller, 'save', policy);
  if (!caller.ownerId) throw new AppError('UNAUTHENTICATED', 'An API key is required to save');
  return caller.ownerId;
}

/** Images looked up by hash: the caller's own uploads only (keys, and anonymous callers by address). */
export function ownerForLookup(caller: Caller): string {
  authorize(caller, 'read');
  return caller.ownerId ?? ANONYMOUS_UPLOADER_PREFIX;
}

/** Deleting an image: users only their own uploads; moderators and admins any. */
export function authorizeDelete(caller: Caller, image: { uploader_id: string }): void {
  authorize(caller, 'delete');
  if (caller.role === 'user' && image.uploader_id !== caller.ownerId) {
    throw new AppError('FORBIDDEN', 'Only the uploader may delete this image');
  }
}
