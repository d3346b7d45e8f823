import type { Caller } from '../auth/roles.ts';
import type { ImageRecord } from './image.types.ts';

/** What the rule needs of an image row. */
export type VisibilityFacts = Pick<ImageRecord, 'status' | 'deleted_at' | 'flagged' | 'uploader_id'>;

const STAFF = new Set<Caller['role']>(['moderator', 'admin']);

/**
 * Public: indexed (so it passed the safety check), not deleted, not flagged. PENDING is not
 * public either: nothing has checked it yet, and the uploader already holds the bytes.
 */
export function isPublicImage(image: VisibilityFacts): boolean {
  return image.status === 'INDEXED' && !image.deleted_at && !image.flagged;
}

/**
 * The one visibility rule for every path that shows an image (image, images, REST, blob URL,
 * thumbnails): the public sees public images; the uploader sees their own unless deleted;
 * moderators and admins see everything.
 */
export function canViewImage(image: VisibilityFacts, caller: Caller): boolean {
  if (isPublicImage(image)) return true;
  if (STAFF.has(caller.role)) return true;
  return !image.deleted_at && caller.ownerId !== null && caller.ownerId === image.uploader_id;
}

/** Blob bytes may be shared by several rows (same bytes, other uploaders): any one viewable suffices. */
export const canViewAny = (images: readonly VisibilityFacts[], caller: Caller) =>
  images.some((image) => canViewImage(image, caller));
