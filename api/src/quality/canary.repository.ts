import { type Database, toBuffer } from '../db/database.ts';

const vectorOf = (bytes: unknown, dim: number): Float32Array => {
  const buffer = toBuffer(bytes);
  return new Float32Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + dim * 4));
};

/** What the recall canary and drift read: sampled queries, and the vectors of record in pages. */
export function createCanaryRepository(db: Database) {
  return {
    /** Up to `limit` distinct text queries logged for this model version in the last `days`, in random order. */
    async recentTextQueries(modelVersion: string, limit: number, days = 7): Promise<string[]> {
      const { rows } = await db.query<{ query_text: string }>(
        `SELECT query_text FROM (
           SELECT DISTINCT query_text FROM search_queries
            WHERE query_text IS NOT NULL AND model_version = $1
              AND created_at > now() - make_interval(days => $3)
         ) t ORDER BY random() LIMIT $2`,
        [modelVersion, limit, days],
      );
      return rows.map((r) => r.query_text);
    },

    /** Up to `limit` live embeddings of this model version picked at random (image queries). */
    async sampleEmbeddings(
      modelVersion: string,
      limit: number,
    ): Promise<{ id: bigint; vector: Float32Array }[]> {
      const { rows } = await db.query<{ image_id: string; dim: number; vector: unknown }>(
        `SELECT image_id::text AS image_id, dim, vector FROM embeddings
          WHERE model_version = $1 AND deleted_at IS NULL ORDER BY random() LIMIT $2`,
        [modelVersion, limit],
      );
      return rows.map((r) => ({ id: BigInt(r.image_id), vector: vectorOf(r.vector, r.dim) }));
    },

    /**
     * Live embeddings of a model version in pages of `page` (keyset on image_id), optionally only
     * those written in the last `hours`. Never the whole table in memory.
     */
    async *embeddings(
      modelVersion: string,
      { page = 2000, hours = null }: { page?: number; hours?: number | null } = {},
    ): AsyncIterable<{ id: bigint; vector: Float32Array }> {
      let after = -1n;
      for (;;) {
        const { rows } = await db.query<{ image_id: string; dim: number; vector: unknown }>(
          `SELECT image_id::text AS image_id, dim, vector FROM embeddings
            WHERE model_version = $1 AND deleted_at IS NULL AND image_id > $2
              AND ($4::int IS NULL OR created_at > now() - make_interval(hours => $4::int))
            ORDER BY image_id LIMIT $3`,
          [modelVersion, after.toString(), page, hours],
        );
        for (const r of rows) yield { id: BigInt(r.image_id), vector: vectorOf(r.vector, r.dim) };
        if (rows.length < page) return;
        after = BigInt(rows[rows.length - 1]!.image_id);
      }
    },

    /** The version's reference, unless the version was promoted after it was taken (then none). */
    async driftReference(modelVersion: string) {
      const { rows } = await db.query<{ reset_at: Date; mean: unknown; vectors: number }>(
        `SELECT d.reset_at, d.mean, d.vectors FROM drift_references d
           LEFT JOIN index_versions v ON v.model_version = d.model_version
          WHERE d.model_version = $1 AND (v.promoted_at IS NULL OR d.reset_at >= v.promoted_at)`,
        [modelVersion],
      );
      const row = rows[0];
      if (!row) return null;
      const mean = row.mean === null ? null : toBuffer(row.mean);
      return {
        resetAt: row.reset_at,
        vectors: row.vectors,
        mean: mean
          ? new Float32Array(mean.buffer.slice(mean.byteOffset, mean.byteOffset + mean.byteLength))
          : null,
      };
    },

    async setDriftReference(modelVersion: string, mean: Float32Array | null, vectors: number): Promise<void> {
      await db.query(
        `INSERT INTO drift_references (model_version, reset_at, mean, vectors) VALUES ($1, now(), $2, $3)
         ON CONFLICT (model_version) DO UPDATE
           SET reset_at = now(), mean = EXCLUDED.mean, vectors = EXCLUDED.vectors, updated_at = now()`,
        [modelVersion, mean ? Buffer.from(mean.buffer, mean.byteOffset, mean.byteLength) : null, vectors],
      );
    },
  };
}
export type CanaryRepository = ReturnType<typeof createCanaryRepository>;
