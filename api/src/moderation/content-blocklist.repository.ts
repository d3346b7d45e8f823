import type { Queryable } from '../db/database.ts';
import { PHASH_MATCH_DISTANCE, phashToSql } from '../images/phash.ts';

export interface BlockedContentMatch {
  id: string;
  reason: string;
  /** 'sha256' for the exact bytes, 'phash' for a perceptual match. */
  by: 'sha256' | 'phash';
}

/**
 * Blocked content, by bytes and by look: survives the deletion of the flagged row. A linear
 * scan for the perceptual match (bit_count over the blocklist): fine for a blocklist of up to
 * ~10^5 entries per upload; beyond that, a multi-index hash table (4 x 16-bit bands) would do.
 */
export function createContentBlocklistRepository(db: Queryable) {
  return {
    async block(entry: {
      sha256: string;
      phash: bigint | null;
      sourceImage: string;
      reason: string;
      flaggedBy: string | null;
    }): Promise<void> {
      await db.query(
        `INSERT INTO content_blocklist (sha256, phash, source_image, reason, flagged_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (sha256) DO UPDATE SET phash = coalesce(EXCLUDED.phash, content_blocklist.phash),
           reason = EXCLUDED.reason, flagged_by = EXCLUDED.flagged_by`,
        [entry.sha256, phashToSql(entry.phash), entry.sourceImage, entry.reason, entry.flaggedBy],
      );
    },

    /** The blocklist entry these bytes (or this look) match, if any. */
    async match(sha256: string, phash: bigint | null): Promise<BlockedContentMatch | null> {
      return (await this.matchMany([{ sha256, phash }]))[0] ?? null;
    },

    /** For each image (bytes and look), in order, the blocklist entry it matches, or null: one statement. */
    async matchMany(
      images: readonly { sha256: string; phash: bigint | null }[],
    ): Promise<(BlockedContentMatch | null)[]> {
      if (images.length === 0) return [];
      const { rows } = await db.query<BlockedContentMatch & { i: number }>(
        `SELECT q.i::int AS i, b.id::text AS id, b.reason, b.by
           FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS q(sha256, phash, i)
           CROSS JOIN LATERAL (
             SELECT id, reason, CASE WHEN sha256 = q.sha256 THEN 'sha256' ELSE 'phash' END AS by
               FROM content_blocklist
              WHERE sha256 = q.sha256
                 OR (q.phash IS NOT NULL AND phash IS NOT NULL
                     AND bit_count((phash # q.phash)::bit(64)) <= $3)
              ORDER BY (sha256 = q.sha256) DESC LIMIT 1
           ) b`,
        [images.map((m) => m.sha256), images.map((m) => phashToSql(m.phash)), PHASH_MATCH_DISTANCE],
      );
      const out: (BlockedContentMatch | null)[] = images.map(() => null);
      for (const { i, ...match } of rows) out[i - 1] = match;
      return out;
    },

    /**
     * Takes down every other live copy of blocked content (same bytes, a duplicate of the
     * flagged image, or a perceptual match): REJECTED, its vector tombstoned. Returns their ids
     * so the caller can remove them from the shards.
     */
    async rejectCopies(flaggedId: string, sha256: string, phash: bigint | null): Promise<string[]> {
      const { rows } = await db.query<{ id: string }>(
        `UPDATE images SET status = 'REJECTED', last_error = 'matches blocked content', updated_at = now()
          WHERE id <> $1 AND deleted_at IS NULL AND status <> 'REJECTED'
            AND (sha256 = $2 OR duplicate_of = $1
                 OR ($3::bigint IS NOT NULL AND phash IS NOT NULL
                     AND bit_count((phash # $3::bigint)::bit(64)) <= $4))
          RETURNING id::text AS id`,
        [flaggedId, sha256, phashToSql(phash), PHASH_MATCH_DISTANCE],
      );
      const ids = rows.map((r) => r.id);
      if (ids.length > 0) {
        await db.query(
          `UPDATE embeddings SET deleted_at = now(), seq = DEFAULT
            WHERE image_id = ANY($1::bigint[]) AND deleted_at IS NULL`,
          [ids],
        );
      }
      return ids;
    },
  };
}
export type ContentBlocklistRepository = ReturnType<typeof createContentBlocklistRepository>;
