import type { Database } from '../db/database.ts';
import { createContentBlocklistRepository } from './content-blocklist.repository.ts';

/** The SQL of takedowns: a flag and a delete, each one transaction. */
export function createModerationRepository(db: Database) {
  return {
    /** The stored pHash of an image; null for rows older than migration 0005 or near-flat images. */
    async storedPhash(id: string): Promise<bigint | null> {
      const { rows } = await db.query<{ phash: string | null }>(
        'SELECT phash::text AS phash FROM images WHERE id = $1',
        [id],
      );
      return rows[0]?.phash ? BigInt.asUintN(64, BigInt(rows[0].phash)) : null;
    },

    /**
     * Flags an image and blocks its content (exact bytes and look) in one transaction; copies
     * already stored are REJECTED. Returns the ids of those copies.
     */
    flag(flag: {
      id: string;
      reason: string;
      flaggedBy: string | null;
      sha256: string;
      phash: bigint | null;
    }): Promise<string[]> {
      return db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO safety_blocklist (image_id, reason, flagged_by) VALUES ($1, $2, $3)
           ON CONFLICT (image_id) DO UPDATE SET reason = EXCLUDED.reason, flagged_by = EXCLUDED.flagged_by`,
          [flag.id, flag.reason, flag.flaggedBy],
        );
        const blocked = createContentBlocklistRepository(tx);
        await blocked.block({
          sha256: flag.sha256,
          phash: flag.phash,
          sourceImage: flag.id,
          reason: flag.reason,
          flaggedBy: flag.flaggedBy,
        });
        return blocked.rejectCopies(flag.id, flag.sha256, flag.phash);
      });
    },

    /**
     * Marks an image DELETED and tombstones its embeddings in one transaction. A copy of its
     * bytes from another uploader becomes the indexed one, unless the content is blocked (those
     * copies were REJECTED by the flag; the worker checks again).
     */
    async softDelete(id: string): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.query(
          `UPDATE images SET deleted_at = now(), status = 'DELETED', updated_at = now() WHERE id = $1`,
          [id],
        );
        await tx.query(
          `INSERT INTO index_jobs (image_id, kind)
           SELECT id, 'index' FROM images WHERE duplicate_of = $1 AND deleted_at IS NULL AND status = 'INDEXED'
           ON CONFLICT DO NOTHING`,
          [id],
        );
        await tx.query(
          `UPDATE images SET duplicate_of = NULL, status = 'PENDING'
            WHERE duplicate_of = $1 AND deleted_at IS NULL AND status = 'INDEXED'`,
          [id],
        );
        // a tombstone, not a DELETE: shards replaying the table must see the removal
        await tx.query(
          `UPDATE embeddings SET deleted_at = now(), seq = DEFAULT WHERE image_id = $1 AND deleted_at IS NULL`,
          [id],
        );
      });
    },
  };
}
export type ModerationRepository = ReturnType<typeof createModerationRepository>;
