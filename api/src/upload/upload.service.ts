import type { BlobStore } from '../blobs/blob-store.ts';
import { blobKeyFor } from '../blobs/blob-store.ts';
import type { InTransaction } from '../db/unit-of-work.ts';
import { AppError, badInput } from '../errors.ts';
import type { ImageRecord } from '../images/image.types.ts';
import type { ImagesRepository } from '../images/images.repository.ts';
import { inspectImage } from '../images/inspect-image.ts';
import { perceptualHash, phashToSql } from '../images/phash.ts';
import type { ContentBlocklistRepository } from '../moderation/content-blocklist.repository.ts';
import { parseTagsHint, parseUploaderId } from './upload-input.ts';

export interface UploadLimits {
  maxBytes: number;
  maxPixels: number;
}

export interface UploadRequest {
  file: { size: number; arrayBuffer(): Promise<ArrayBuffer> };
  uploaderId: string;
  tagsHint?: readonly string[] | null;
}

export interface UploadOutcome {
  image: ImageRecord;
  /** false when the same uploader had already sent these bytes. */
  created: boolean;
}

const BLOB_SCHEME = 'blob:';
export const storageUrlOfKey = (key: string) => `${BLOB_SCHEME}${key}`;
export const blobKeyOf = (storageUrl: string) =>
  storageUrl.startsWith(BLOB_SCHEME) ? storageUrl.slice(BLOB_SCHEME.length) : storageUrl;

/**
 * validate -> write blob -> insert image PENDING + tags + index job in one transaction -> answer.
 * Never waits for the model; the indexing worker picks the job up.
 */
export function createUploadService(deps: {
  images: ImagesRepository;
  blockedContent: ContentBlocklistRepository;
  /** The images repository inside one transaction (row, tags and job commit together). */
  transaction: InTransaction<ImagesRepository>;
  blobs: BlobStore;
  limits: UploadLimits;
  /** Called after a job is queued (the in-process worker skips its idle wait). */
  onQueued?: () => void;
}) {
  const { images: repo, blockedContent, transaction, blobs, limits } = deps;

  return {
    async upload(request: UploadRequest): Promise<UploadOutcome> {
      const uploaderId = parseUploaderId(request.uploaderId);
      const tags = parseTagsHint(request.tagsHint);
      if (request.file.size > limits.maxBytes) {
        throw new AppError(
          'PAYLOAD_TOO_LARGE',
          `Expected an image of at most ${limits.maxBytes} bytes but received ${request.file.size}`,
        );
      }
      const bytes = Buffer.from(await request.file.arrayBuffer());
      const image = await inspectImage(bytes, limits);

      const existing = await repo.findLiveByUploaderAndSha(uploaderId, image.sha256);
      if (existing) return { image: existing, created: false };

      const key = blobKeyFor(image.sha256, image.ext);
      const storageUrl = `${BLOB_SCHEME}${key}`;
      // a takedown follows the content: these bytes, or a re-encoded, resized or cropped copy
      const phash = (await perceptualHash(bytes)).hash;
      const blocked = await blockedContent.match(image.sha256, phash);
      // blocked bytes are never stored; the row records the refusal for the uploader
      if (!blocked) await blobs.put(key, bytes, image.mime);
      try {
        const inserted = await transaction(async (txRepo) => {
          const row = await txRepo.insertPending({
            storageUrl,
            mimeType: image.mime,
            byteSize: bytes.length,
            width: image.width,
            height: image.height,
            uploaderId,
            sha256: image.sha256,
            phash: phashToSql(phash),
            ...(blocked
              ? { status: 'REJECTED' as const, lastError: `matches blocked content (${blocked.by})` }
              : {}),
          });
          if (!row) return null; // a concurrent upload of the same bytes won
          await txRepo.insertTags(row.id, tags, 'user');
          if (!blocked) await txRepo.enqueueIndexJob(row.id);
          return row;
        });
        if (inserted) {
          deps.onQueued?.();
          return { image: inserted, created: true };
        }
        const winner = await repo.findLiveByUploaderAndSha(uploaderId, image.sha256);
        if (!winner) throw new Error('upload lost a race and found no winner');
        return { image: winner, created: false };
      } catch (error) {
        // the blob is content-addressed: remove it only when no live image points at it
        if (!blocked && (await repo.countByStorageUrl(storageUrl)) === 0)
          await blobs.delete(key).catch(() => {});
        throw error;
      }
    },

    /**
     * The uploader's own live images with these SHA-256 hashes, in the order asked (null where
     * there is none): what `pixelfind ingest` skips. Never another uploader's rows.
     */
    async ownBySha256(uploaderId: string, hashes: readonly string[]): Promise<(ImageRecord | null)[]> {
      const wanted = hashes.map((hash) => hash.trim().toLowerCase());
      const bad = wanted.find((hash) => !/^[0-9a-f]{64}$/.test(hash));
      if (bad !== undefined)
        throw badInput(`Expected sha256 to be 64 hex digits but received ${JSON.stringify(bad)}`);
      const rows = await repo.findLiveByUploaderAndShas(uploaderId, [...new Set(wanted)]);
      const byHash = new Map(rows.map((row) => [row.sha256, row]));
      return wanted.map((hash) => byHash.get(hash) ?? null);
    },
  };
}
export type UploadService = ReturnType<typeof createUploadService>;
