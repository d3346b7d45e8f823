import sharp from 'sharp';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { ImageRecord } from '../images/image.types.ts';
import { blobKeyOf } from '../upload/upload.service.ts';

/** Widths a client may ask for; anything else would let a caller fill the store. */
export const THUMB_SIZES = [128, 256, 512, 1024] as const;
export type ThumbSize = (typeof THUMB_SIZES)[number];
export const DEFAULT_THUMB_SIZE: ThumbSize = 256;

export const isThumbSize = (n: number): n is ThumbSize => (THUMB_SIZES as readonly number[]).includes(n);

/** Thumbnails are named by content, so every image with the same bytes shares them. */
export const thumbKeyFor = (sha256: string, size: ThumbSize) =>
  `thumbs/${sha256.slice(0, 2)}/${sha256}-${size}.webp`;

/**
 * WebP thumbnails made on first request with sharp (on libuv's pool, off the event loop) and
 * kept in the blob store. Concurrent requests for one thumbnail share one resize.
 */
export function createThumbnails(deps: { blobs: BlobStore }) {
  const inFlight = new Map<string, Promise<Buffer | null>>();

  async function make(image: ImageRecord, size: ThumbSize, key: string): Promise<Buffer | null> {
    const cached = await deps.blobs.get(key);
    if (cached) return cached.bytes;
    const original = await deps.blobs.get(blobKeyOf(image.storage_url));
    if (!original) return null;
    const bytes = await sharp(original.bytes, { limitInputPixels: 100_000_000 })
      .rotate()
      .resize({ width: size, height: size, fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 78 })
      .toBuffer();
    await deps.blobs.put(key, bytes, 'image/webp');
    return bytes;
  }

  return {
    /** The WebP bytes, or null when the original is gone. The caller checks visibility first. */
    get(image: ImageRecord, size: ThumbSize): Promise<Buffer | null> {
      const key = thumbKeyFor(image.sha256, size);
      let pending = inFlight.get(key);
      if (!pending) {
        pending = make(image, size, key).finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      return pending;
    },
  };
}
export type Thumbnails = ReturnType<typeof createThumbnails>;
