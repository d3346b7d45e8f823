import type { Queryable } from '../db/database.ts';
import { toBuffer } from '../db/database.ts';
import { bufferToVector } from './vectors.ts';

export function createSearchRepository(db: Queryable) {
  return {
    /** The stored vector of an indexed image (or of the image it duplicates). */
    async embeddingOf(imageId: string, modelVersion: string): Promise<Float32Array | null> {
      const { rows } = await db.query<{ vector: unknown }>(
        `SELECT e.vector FROM images i
           JOIN embeddings e ON e.image_id = coalesce(i.duplicate_of, i.id) AND e.model_version = $2
            AND e.deleted_at IS NULL
         WHERE i.id = $1 AND i.deleted_at IS NULL`,
        [imageId, modelVersion],
      );
      return rows[0] ? bufferToVector(toBuffer(rows[0].vector)) : null;
    },

    /** Ids of live images carrying every one of `labels` (from any source). */
    async idsWithLabels(labels: readonly string[], cap: number): Promise<bigint[]> {
      const { rows } = await db.query<{ id: string }>(
        `SELECT t.image_id::text AS id FROM tags t JOIN images i ON i.id = t.image_id
         WHERE t.label = ANY($1::text[]) AND i.deleted_at IS NULL AND i.status = 'INDEXED'
         GROUP BY t.image_id HAVING count(DISTINCT t.label) = $2
         LIMIT $3`,
        [labels, labels.length, cap],
      );
      return rows.map((r) => BigInt(r.id));
    },

    async allBlocked(): Promise<string[]> {
      const { rows } = await db.query<{ id: string }>('SELECT image_id::text AS id FROM safety_blocklist');
      return rows.map((r) => r.id);
    },
  };
}
export type SearchRepository = ReturnType<typeof createSearchRepository>;
