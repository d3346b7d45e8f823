import type { Queryable } from '../db/database.ts';
import { toBuffer } from '../db/database.ts';
import { bufferToVector } from './vectors.ts';

export function createSearchRepository(db: Queryable) {
  return {
    /**
     * The stored vector of a public image (or of the image it duplicates): indexed, live and
     * flagged neither itself nor through its canonical copy. Anything else cannot seed a search.
     */
    async embeddingOf(imageId: string, modelVersion: string): Promise<Float32Array | null> {
      const { rows } = await db.query<{ vector: unknown }>(
        `SELECT e.vector FROM images i
           JOIN embeddings e ON e.image_id = coalesce(i.duplicate_of, i.id) AND e.model_version = $2
            AND e.deleted_at IS NULL
         WHERE i.id = $1 AND i.deleted_at IS NULL AND i.status = 'INDEXED'
           AND NOT EXISTS (SELECT 1 FROM safety_blocklist b
                            WHERE b.image_id IN (i.id, coalesce(i.duplicate_of, i.id)))`,
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

    /** The record behind the blocklist cache: which of `ids` are flagged. */
    async blocked(ids: readonly string[]): Promise<Set<string>> {
      if (ids.length === 0) return new Set();
      const { rows } = await db.query<{ id: string }>(
        'SELECT image_id::text AS id FROM safety_blocklist WHERE image_id = ANY($1::bigint[])',
        [ids],
      );
      return new Set(rows.map((r) => r.id));
    },

    /** The safety epoch: bumped with every flag, unflag, rejection and deletion. */
    async safetyEpoch(): Promise<string> {
      const { rows } = await db.query<{ epoch: string }>('SELECT epoch::text AS epoch FROM safety_epoch');
      return rows[0]!.epoch;
    },

    /** The flagged ids and the epoch they belong to, from one statement (one snapshot). */
    async blocklistSnapshot(): Promise<{ epoch: string; ids: string[] }> {
      const { rows } = await db.query<{ epoch: string; ids: string[] }>(
        `SELECT (SELECT epoch::text FROM safety_epoch) AS epoch,
                array(SELECT image_id::text FROM safety_blocklist) AS ids`,
      );
      return rows[0]!;
    },
  };
}
export type SearchRepository = ReturnType<typeof createSearchRepository>;
