import type { Queryable } from '../db/database.ts';

/** Only this file writes SQL for clicks and saves (image_stats is the aggregation's). */
export function createFeedbackRepository(db: Queryable) {
  return {
    /**
     * Inserts the click when the query showed the image and the image still exists; answers its
     * position (0-based index in the query's result_ids), or null when nothing was inserted.
     */
    async insertClickIfShown(queryId: string, imageId: string): Promise<number | null> {
      const { rows } = await db.query<{ position: number }>(
        `INSERT INTO clicks (query_id, image_id, position)
         SELECT q.id, i.id, array_position(q.result_ids, i.id) - 1
         FROM search_queries q JOIN images i ON i.id = $2::bigint
         WHERE q.id = $1::uuid AND i.id = ANY (q.result_ids)
         RETURNING position`,
        [queryId, imageId],
      );
      return rows[0]?.position ?? null;
    },

    /** Whether the query showed the image; null when there is no such query. */
    async queryShowed(queryId: string, imageId: string): Promise<boolean | null> {
      const { rows } = await db.query<{ shown: boolean }>(
        'SELECT $2::bigint = ANY (result_ids) AS shown FROM search_queries WHERE id = $1::uuid',
        [queryId, imageId],
      );
      return rows[0]?.shown ?? null;
    },

    async queryExists(queryId: string): Promise<boolean> {
      const { rowCount } = await db.query('SELECT 1 FROM search_queries WHERE id = $1::uuid', [queryId]);
      return rowCount > 0;
    },

    /** Records the save; false when this user had already saved this image. */
    async insertSave(imageId: string, userId: string): Promise<boolean> {
      const { rowCount } = await db.query(
        `INSERT INTO saves (image_id, user_id) VALUES ($1::bigint, $2)
         ON CONFLICT (image_id, user_id) DO NOTHING`,
        [imageId, userId],
      );
      return rowCount > 0;
    },
  };
}
export type FeedbackRepository = ReturnType<typeof createFeedbackRepository>;
