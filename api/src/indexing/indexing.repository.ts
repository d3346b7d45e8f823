import type { Queryable } from '../db/database.ts';

export interface ImageToIndex {
  id: string;
  storage_url: string;
  sha256: string;
  /** pHash the upload computed from these bytes (signed int8 as text), or null: too flat, or none computed */
  phash: string | null;
  status: string;
  deleted_at: Date | null;
}

const toBytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

export function createIndexingRepository(db: Queryable) {
  return {
    async imagesForJobs(ids: readonly string[]): Promise<ImageToIndex[]> {
      const { rows } = await db.query<ImageToIndex>(
        `SELECT id::text AS id, storage_url, sha256, phash::text AS phash, status, deleted_at FROM images WHERE id = ANY($1::bigint[])`,
        [ids],
      );
      return rows;
    },

    /** Another live image with the same bytes already indexed for this model: the canonical copy. */
    async indexedTwin(imageId: string, sha256: string, modelVersion: string): Promise<string | null> {
      const { rows } = await db.query<{ id: string }>(
        `SELECT i.id::text AS id FROM images i JOIN embeddings e ON e.image_id = i.id AND e.model_version = $3 AND e.deleted_at IS NULL
         WHERE i.sha256 = $2 AND i.id <> $1 AND i.status = 'INDEXED' AND i.deleted_at IS NULL
           AND i.duplicate_of IS NULL
         ORDER BY i.id LIMIT 1`,
        [imageId, sha256, modelVersion],
      );
      return rows[0]?.id ?? null;
    },

    /** One vector of record (idempotent: a second write replaces it and takes a new seq). */
    async putEmbedding(imageId: string, modelVersion: string, vector: Float32Array): Promise<void> {
      await db.query(
        `INSERT INTO embeddings (image_id, model_version, dim, vector) VALUES ($1, $2, $3, $4)
         ON CONFLICT (image_id, model_version) DO UPDATE
           SET vector = EXCLUDED.vector, dim = EXCLUDED.dim, deleted_at = NULL, seq = DEFAULT`,
        [imageId, modelVersion, vector.length, toBytes(vector)],
      );
    },
    /**
     * The vectors of record (one per model version being served or built), tags, safety and
     * status, written together (idempotent).
     */
    async markIndexed(args: {
      imageId: string;
      modelVersion: string;
      embeddings: { modelVersion: string; vector: Float32Array }[];
      tags: { label: string; confidence: number }[];
      safetyScore: number;
      safetyDetail: object;
    }) {
      for (const e of args.embeddings) await this.putEmbedding(args.imageId, e.modelVersion, e.vector);
      await db.query(`DELETE FROM tags WHERE image_id = $1 AND source = 'clip-zero-shot'`, [args.imageId]);
      if (args.tags.length > 0) {
        await db.query(
          `INSERT INTO tags (image_id, label, confidence, source, model_version)
           SELECT $1::bigint, t.label, t.confidence, 'clip-zero-shot', $4
           FROM unnest($2::text[], $3::real[]) AS t(label, confidence)
           ON CONFLICT (image_id, source, label) DO UPDATE SET confidence = EXCLUDED.confidence`,
          [
            args.imageId,
            args.tags.map((t) => t.label),
            args.tags.map((t) => t.confidence),
            args.modelVersion,
          ],
        );
      }
      const { rows } = await db.query<{ seconds: number }>(
        `UPDATE images SET status = 'INDEXED', safety_score = $2, safety_detail = $3, last_error = NULL,
                indexed_at = now(), updated_at = now(), duplicate_of = NULL
         WHERE id = $1 AND deleted_at IS NULL
         RETURNING extract(epoch FROM now() - created_at)::float8 AS seconds`,
        [args.imageId, args.safetyScore, JSON.stringify(args.safetyDetail)],
      );
      /** Seconds from upload to INDEXED, or null when the image was deleted meanwhile. */
      return rows[0]?.seconds ?? null;
    },

    async markDuplicate(imageId: string, canonicalId: string) {
      await db.query(
        `UPDATE images SET status = 'INDEXED', duplicate_of = $2, safety_score =
           (SELECT safety_score FROM images WHERE id = $2), indexed_at = now(), updated_at = now()
         WHERE id = $1 AND deleted_at IS NULL`,
        [imageId, canonicalId],
      );
    },

    async markRejected(imageId: string, safetyScore: number, safetyDetail: object) {
      await db.query(
        `UPDATE images SET status = 'REJECTED', safety_score = $2, safety_detail = $3, updated_at = now()
         WHERE id = $1 AND deleted_at IS NULL`,
        [imageId, safetyScore, JSON.stringify(safetyDetail)],
      );
    },

    /** The bytes match blocked content (see content_blocklist): REJECTED, never indexed. */
    async markBlockedContent(imageId: string, phash: string | null, by: string) {
      await db.query(
        `UPDATE images SET status = 'REJECTED', phash = coalesce(phash, $2::bigint), updated_at = now(),
                last_error = $3
         WHERE id = $1 AND deleted_at IS NULL`,
        [imageId, phash, `matches blocked content (${by})`],
      );
    },

    async markFailed(imageId: string, error: string) {
      await db.query(
        `UPDATE images SET status = 'FAILED', last_error = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL`,
        [imageId, error],
      );
    },
  };
}
export type IndexingRepository = ReturnType<typeof createIndexingRepository>;
