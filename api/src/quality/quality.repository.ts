import type { Queryable } from '../db/database.ts';
import { toBuffer } from '../db/database.ts';
import { bufferToVector } from '../search/vectors.ts';

/** One version's vectors of record, packed row after row (`ids[i]` owns `vectors[i*dim ..]`). */
export interface VersionVectors {
  modelVersion: string;
  dimension: number;
  ids: bigint[];
  vectors: Float32Array;
}

/** What the quality measurements read from Postgres: vectors of record and the search log. */
export function createQualityRepository(db: Queryable) {
  return {
    /**
     * Every live vector of `modelVersion`: what its shard indexes hold (the embeddings table is
     * their record, tombstones excluded). `limit` caps very large libraries (a sample, lowest seq).
     */
    async liveVectors(modelVersion: string, limit = 200_000): Promise<VersionVectors> {
      const { rows } = await db.query<{ id: string; dim: number; vector: unknown }>(
        `SELECT image_id::text AS id, dim, vector FROM embeddings
          WHERE model_version = $1 AND deleted_at IS NULL
          ORDER BY seq LIMIT $2`,
        [modelVersion, limit],
      );
      const dimension = rows[0]?.dim ?? 0;
      const vectors = new Float32Array(rows.length * dimension);
      for (const [i, row] of rows.entries()) vectors.set(bufferToVector(toBuffer(row.vector)), i * dimension);
      return { modelVersion, dimension, ids: rows.map((r) => BigInt(r.id)), vectors };
    },
    /**
     * Queries users searched for and then clicked, from the search log: each distinct text with
     * the images clicked from its answers (the relevant set), most clicked first.
     */
    async minedQueries(limit: number, sinceDays = 30): Promise<{ text: string; relevantIds: string[] }[]> {
      const { rows } = await db.query<{ text: string; ids: string[] }>(
        `SELECT lower(q.query_text) AS text, array_agg(DISTINCT c.image_id::text) AS ids
           FROM search_queries q JOIN clicks c ON c.query_id = q.id
           JOIN images i ON i.id = c.image_id AND i.deleted_at IS NULL AND i.status = 'INDEXED'
          WHERE q.query_text IS NOT NULL AND q.image_ref IS NULL
            AND q.created_at > now() - make_interval(days => $2)
          GROUP BY lower(q.query_text)
          ORDER BY count(*) DESC, lower(q.query_text)
          LIMIT $1`,
        [limit, sinceDays],
      );
      return rows.map((r) => ({ text: r.text, relevantIds: r.ids }));
    },
  };
}
export type QualityRepository = ReturnType<typeof createQualityRepository>;
