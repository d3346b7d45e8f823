import type { Queryable } from '../db/database.ts';
import type { ClaimedJob } from '../indexing/index-jobs.repository.ts';
import type { ImageRecord, ImageStatsRecord, TagRecord, TagSource } from './image.types.ts';

const IMAGE_COLUMNS = `id::text AS id, storage_url, mime_type, byte_size, width, height, uploader_id, status,
  sha256, safety_score, created_at, deleted_at,
  EXISTS (SELECT 1 FROM safety_blocklist b WHERE b.image_id = images.id) AS flagged`;

export interface NewImage {
  storageUrl: string;
  mimeType: string;
  byteSize: number;
  width: number;
  height: number;
  uploaderId: string;
  sha256: string;
  /** Perceptual hash (signed int8 text), null for near-flat images. */
  phash?: string | null;
  /** REJECTED when the bytes match blocked content; default PENDING. */
  status?: 'PENDING' | 'REJECTED';
  lastError?: string | null;
}

/** Only this file and its siblings' repositories write SQL for images, tags and stats. */
export function createImagesRepository(db: Queryable) {
  /** The rows `sql` reads for a batch of image ids ($1); no query for an empty batch. */
  const forIds = async <T>(ids: readonly string[], sql: string): Promise<T[]> =>
    ids.length === 0 ? [] : (await db.query<T>(sql, [ids])).rows;

  return {
    findByIds: (ids: readonly string[]) =>
      forIds<ImageRecord>(ids, `SELECT ${IMAGE_COLUMNS} FROM images WHERE id = ANY($1::bigint[])`),

    tagsForImages: (ids: readonly string[]) =>
      forIds<TagRecord>(
        ids,
        `SELECT image_id::text AS image_id, label, confidence, source FROM tags
         WHERE image_id = ANY($1::bigint[]) ORDER BY image_id, confidence DESC, label`,
      ),

    statsForImages: (ids: readonly string[]) =>
      forIds<ImageStatsRecord>(
        ids,
        `SELECT image_id::text AS image_id, impressions, clicks, saves FROM image_stats
         WHERE image_id = ANY($1::bigint[])`,
      ),

    async findLiveByUploaderAndSha(uploaderId: string, sha256: string): Promise<ImageRecord | null> {
      const { rows } = await db.query<ImageRecord>(
        `SELECT ${IMAGE_COLUMNS} FROM images WHERE uploader_id = $1 AND sha256 = $2 AND deleted_at IS NULL`,
        [uploaderId, sha256],
      );
      return rows[0] ?? null;
    },

    async findLiveByUploaderAndShas(uploaderId: string, sha256s: readonly string[]): Promise<ImageRecord[]> {
      if (sha256s.length === 0) return [];
      const { rows } = await db.query<ImageRecord>(
        `SELECT ${IMAGE_COLUMNS} FROM images WHERE uploader_id = $1 AND sha256 = ANY($2::text[]) AND deleted_at IS NULL`,
        [uploaderId, sha256s],
      );
      return rows;
    },

    /** Live rows pointing at one blob (several uploaders may share its bytes). */
    async findLiveByStorageUrl(storageUrl: string): Promise<ImageRecord[]> {
      const { rows } = await db.query<ImageRecord>(
        `SELECT ${IMAGE_COLUMNS} FROM images WHERE storage_url = $1 AND deleted_at IS NULL LIMIT 100`,
        [storageUrl],
      );
      return rows;
    },
    async countByStorageUrl(storageUrl: string): Promise<number> {
      const { rows } = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM images WHERE storage_url = $1 AND deleted_at IS NULL',
        [storageUrl],
      );
      return rows[0]!.n;
    },

    /** Inserts the row PENDING; returns null when the same uploader already has these bytes. */
    async insertPending(image: NewImage): Promise<ImageRecord | null> {
      const { rows } = await db.query<ImageRecord>(
        `INSERT INTO images (storage_url, mime_type, byte_size, width, height, uploader_id, sha256, phash,
                             status, last_error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (uploader_id, sha256) WHERE deleted_at IS NULL DO NOTHING
         RETURNING ${IMAGE_COLUMNS}`,
        [
          image.storageUrl,
          image.mimeType,
          image.byteSize,
          image.width,
          image.height,
          image.uploaderId,
          image.sha256,
          image.phash ?? null,
          image.status ?? 'PENDING',
          image.lastError ?? null,
        ],
      );
      return rows[0] ?? null;
    },

    async insertTags(imageId: string, labels: readonly string[], source: TagSource, confidence = 1) {
      if (labels.length === 0) return;
      await db.query(
        `INSERT INTO tags (image_id, label, confidence, source)
         SELECT $1::bigint, label, $3, $4 FROM unnest($2::text[]) AS label
         ON CONFLICT (image_id, source, label) DO NOTHING`,
        [imageId, labels, confidence, source],
      );
    },

    /** At most one open job per image and kind (`model_version` stays NULL until it means something). */
    async enqueueIndexJob(imageId: string, kind: ClaimedJob['kind'] = 'index') {
      await db.query(
        `INSERT INTO index_jobs (image_id, kind) VALUES ($1, $2)
         ON CONFLICT (image_id, kind, coalesce(model_version, '')) WHERE state IN ('queued', 'running') DO NOTHING`,
        [imageId, kind],
      );
    },
  };
}
export type ImagesRepository = ReturnType<typeof createImagesRepository>;
