import { AppError, badInput } from '../errors.ts';
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

/** Uploading as uploaderId: a user key uploads only as its owner; admins (and anonymous single-node) as anyone. */
export function authorizeUploadAs(caller: Caller, uploaderId: string, policy: AuthPolicy): void {
  authorize(caller, 'upload', policy);
  if (caller.role === 'user' && uploaderId.trim() !== caller.ownerId) {
    throw badInput('Expected uploaderId to be the owner of the API key');
  }
}

/** Saving for userId: a user key saves only for its owner. */
export function authorizeSaveFor(caller: Caller, userId: string, policy: AuthPolicy): void {
  authorize(caller, 'save', policy);
  if (caller.role === 'user' && userId.trim() !== caller.ownerId) {
    throw badInput('Expected userId to be the owner of the API key');
  }
}

/** Deleting an image: users only their own uploads; moderators and admins any. */
export function authorizeDelete(caller: Caller, image: { uploader_id: string }): void {
  authorize(caller, 'delete');
  if (caller.role === 'user' && image.uploader_id !== caller.ownerId) {
    throw new AppError('FORBIDDEN', 'Only the uploader may delete this image');
  }
}
