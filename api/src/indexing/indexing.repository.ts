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

    /**
     * For each image, in order, another live image with the same bytes already indexed for this
     * model (the canonical copy, the lowest id), or null: one statement.
     */
    async indexedTwins(
      images: readonly { id: string; sha256: string }[],
      modelVersion: string,
    ): Promise<(string | null)[]> {
      if (images.length === 0) return [];
      // the copies by sha256 first, then each one's vector by key: as one join, a planner whose
      // statistics lag behind a growing table scanned every INDEXED image or every vector instead
      const { rows } = await db.query<{ i: number; id: string }>(
        `WITH same AS MATERIALIZED (
           SELECT id, sha256, status, deleted_at, duplicate_of FROM images WHERE sha256 = ANY($2::text[])
         )
         SELECT q.i::int AS i, min(s.id)::text AS id
           FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS q(image_id, sha256, i)
           JOIN same s ON s.sha256 = q.sha256 AND s.id <> q.image_id
           CROSS JOIN LATERAL (
             SELECT 1 FROM embeddings e
              WHERE e.image_id = s.id AND e.model_version = $3 AND e.deleted_at IS NULL LIMIT 1
           ) v
          WHERE s.status = 'INDEXED' AND s.deleted_at IS NULL AND s.duplicate_of IS NULL
          GROUP BY q.i`,
        [images.map((m) => m.id), images.map((m) => m.sha256), modelVersion],
      );
      const out: (string | null)[] = images.map(() => null);
      for (const r of rows) out[r.i - 1] = r.id;
      return out;
    },

    /** One vector of record (idempotent: a second write replaces it and takes a new seq). */
    async putEmbedding(imageId: string, modelVersion: string, vector: Float32Array): Promise<void> {
      await this.putEmbeddings([{ imageId, modelVersion, vector }]);
    },

    /** Vectors of record, one statement (at most one per image and model version). */
    async putEmbeddings(
      rows: readonly { imageId: string; modelVersion: string; vector: Float32Array }[],
    ): Promise<void> {
      if (rows.length === 0) return;
      // one bytea holding every vector, cut by offset in SQL: no array-of-bytea encoding per engine
      const offsets: number[] = [];
      let offset = 0;
      for (const r of rows) {
        offsets.push(offset);
        offset += r.vector.byteLength;
      }
      await db.query(
        `INSERT INTO embeddings (image_id, model_version, dim, vector)
         SELECT u.image_id, u.model_version, u.dim, substring($5::bytea FROM u.off + 1 FOR u.dim * 4)
           FROM unnest($1::bigint[], $2::text[], $3::int[], $4::int[]) AS u(image_id, model_version, dim, off)
         ON CONFLICT (image_id, model_version) DO UPDATE
           SET vector = EXCLUDED.vector, dim = EXCLUDED.dim, deleted_at = NULL, seq = DEFAULT`,
        [
          rows.map((r) => r.imageId),
          rows.map((r) => r.modelVersion),
          rows.map((r) => r.vector.length),
          offsets,
          Buffer.concat(
            rows.map((r) => toBytes(r.vector)),
            offset,
          ),
        ],
      );
    },

    /**
     * Images whose vectors of record (one per model version being served or built), tags, safety
     * and status are written together (idempotent), in four statements whatever their number.
     * Returns, for each image still live, the seconds from its upload to INDEXED.
     */
    async markIndexed(
      modelVersion: string,
      images: readonly {
        imageId: string;
        embeddings: { modelVersion: string; vector: Float32Array }[];
        tags: { label: string; confidence: number }[];
        safetyScore: number;
        safetyDetail: object;
      }[],
    ): Promise<Map<string, number>> {
      if (images.length === 0) return new Map();
      const ids = images.map((m) => m.imageId);
      await this.putEmbeddings(
        images.flatMap((m) =>
          m.embeddings.map((e) => ({ imageId: m.imageId, modelVersion: e.modelVersion, vector: e.vector })),
        ),
      );
      await db.query(`DELETE FROM tags WHERE image_id = ANY($1::bigint[]) AND source = 'clip-zero-shot'`, [
        ids,
      ]);
      const tags = images.flatMap((m) => m.tags.map((t) => ({ imageId: m.imageId, ...t })));
      if (tags.length > 0) {
        await db.query(
          `INSERT INTO tags (image_id, label, confidence, source, model_version)
           SELECT t.image_id, t.label, t.confidence, 'clip-zero-shot', $4
           FROM unnest($1::bigint[], $2::text[], $3::real[]) AS t(image_id, label, confidence)
           ON CONFLICT (image_id, source, label) DO UPDATE SET confidence = EXCLUDED.confidence`,
          [tags.map((t) => t.imageId), tags.map((t) => t.label), tags.map((t) => t.confidence), modelVersion],
        );
      }
      const { rows } = await db.query<{ id: string; seconds: number }>(
        `UPDATE images i SET status = 'INDEXED', safety_score = u.score, safety_detail = u.detail::jsonb,
                last_error = NULL, indexed_at = now(), updated_at = now(), duplicate_of = NULL
           FROM unnest($1::bigint[], $2::real[], $3::text[]) AS u(id, score, detail)
          WHERE i.id = u.id AND i.deleted_at IS NULL
         RETURNING i.id::text AS id, extract(epoch FROM now() - i.created_at)::float8 AS seconds`,
        [ids, images.map((m) => m.safetyScore), images.map((m) => JSON.stringify(m.safetyDetail))],
      );
      return new Map(rows.map((r) => [r.id, r.seconds]));
    },

    /** Images pointed at their indexed copies (run after the copies' own markIndexed). */
    async markDuplicates(images: readonly { imageId: string; canonicalId: string }[]) {
      if (images.length === 0) return;
      await db.query(
        `UPDATE images i SET status = 'INDEXED', duplicate_of = u.canonical, safety_score = c.safety_score,
                indexed_at = now(), updated_at = now()
           FROM unnest($1::bigint[], $2::bigint[]) AS u(id, canonical)
           LEFT JOIN images c ON c.id = u.canonical
          WHERE i.id = u.id AND i.deleted_at IS NULL`,
        [images.map((m) => m.imageId), images.map((m) => m.canonicalId)],
      );
    },

    async markRejected(images: readonly { imageId: string; safetyScore: number; safetyDetail: object }[]) {
      if (images.length === 0) return;
      await db.query(
        `UPDATE images i SET status = 'REJECTED', safety_score = u.score, safety_detail = u.detail::jsonb,
                updated_at = now()
           FROM unnest($1::bigint[], $2::real[], $3::text[]) AS u(id, score, detail)
          WHERE i.id = u.id AND i.deleted_at IS NULL`,
        [
          images.map((m) => m.imageId),
          images.map((m) => m.safetyScore),
          images.map((m) => JSON.stringify(m.safetyDetail)),
        ],
      );
    },

    /** The bytes match blocked content (see content_blocklist): REJECTED, never indexed. */
    async markBlockedContent(images: readonly { imageId: string; phash: string | null; by: string }[]) {
      if (images.length === 0) return;
      await db.query(
        `UPDATE images i SET status = 'REJECTED', phash = coalesce(i.phash, u.phash), updated_at = now(),
                last_error = 'matches blocked content (' || u.by || ')'
           FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS u(id, phash, by)
          WHERE i.id = u.id AND i.deleted_at IS NULL`,
        [images.map((m) => m.imageId), images.map((m) => m.phash), images.map((m) => m.by)],
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
