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

    /**
     * Up to `limit` live embeddings of this model version picked at random (image queries, the
     * drift reference). A Bernoulli sample of about 4 x `limit` rows by the table's size estimate,
     * not `ORDER BY random()` over the table: that reads and sorts every vector of record, 2 GB a
     * run at 1M 512-d vectors, and starved searches of Postgres while it ran. When the estimate is
     * stale (too few rows came back) the whole table is sampled.
     */
    async sampleEmbeddings(
      modelVersion: string,
      limit: number,
    ): Promise<{ id: bigint; vector: Float32Array }[]> {
      const { rows: estimate } = await db.query<{ rows: number }>(
        "SELECT greatest(reltuples, 0)::float8 AS rows FROM pg_class WHERE oid = 'embeddings'::regclass",
      );
      const tableRows = estimate[0]?.rows ?? 0;
      const sampled = tableRows > 0 ? Math.min(100, (100 * 4 * limit) / tableRows) : 100;
      const read = async (percent: number) =>
        (
          await db.query<{ image_id: string; dim: number; vector: unknown }>(
            `SELECT image_id::text AS image_id, dim, vector FROM embeddings TABLESAMPLE BERNOULLI ($3)
              WHERE model_version = $1 AND deleted_at IS NULL ORDER BY random() LIMIT $2`,
            [modelVersion, limit, percent],
          )
        ).rows;
      let rows = await read(sampled);
      if (rows.length < limit && sampled < 100) rows = await read(100);
      return rows.map((r) => ({ id: BigInt(r.image_id), vector: vectorOf(r.vector, r.dim) }));
    },

    /**
     * The newest `limit` live embeddings of this model version written in the last `hours`: the
     * newest writes by `seq` (its index), so the read is bounded however many uploads the window holds.
     */
    async recentEmbeddings(
      modelVersion: string,
      hours: number,
      limit: number,
    ): Promise<{ id: bigint; vector: Float32Array }[]> {
      const { rows } = await db.query<{ image_id: string; dim: number; vector: unknown }>(
        `SELECT image_id::text AS image_id, dim, vector FROM (
           SELECT image_id, dim, vector, deleted_at, created_at FROM embeddings
            WHERE model_version = $1 ORDER BY seq DESC LIMIT $3) newest
          WHERE deleted_at IS NULL AND created_at > now() - make_interval(hours => $2::int)`,
        [modelVersion, hours, limit],
      );
      return rows.map((r) => ({ id: BigInt(r.image_id), vector: vectorOf(r.vector, r.dim) }));
    },

    /**
     * Live embeddings of a model version in pages of `page` (keyset on image_id): the recall
     * canary's exact ground truth. Never the whole table in memory.
     */
    async *embeddings(
      modelVersion: string,
      { page = 2000 }: { page?: number } = {},
    ): AsyncIterable<{ id: bigint; vector: Float32Array }> {
      let after = -1n;
      for (;;) {
        const { rows } = await db.query<{ image_id: string; dim: number; vector: unknown }>(
          `SELECT image_id::text AS image_id, dim, vector FROM embeddings
            WHERE model_version = $1 AND deleted_at IS NULL AND image_id > $2
            ORDER BY image_id LIMIT $3`,
          [modelVersion, after.toString(), page],
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
