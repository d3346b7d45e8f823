import type { Queryable } from '../db/database.ts';

/** Only this file writes SQL for clicks and saves (image_stats is the aggregation's). */
export function createFeedbackRepository(db: Queryable) {
  return {
    /**
     * Inserts the click when the query was run by `callerRef`, showed the image, and the image
     * is still live (INDEXED, not deleted, not on the blocklist); once per (query, image).
     * Answers its position (0-based index in the query's result_ids) and the versions the query
     * ran under, or null when nothing was inserted.
     */
    async insertClickIfShown(
      queryId: string,
      imageId: string,
      callerRef: string,
    ): Promise<{ position: number; modelVersion: string; rankerVersion: string } | null> {
      const { rows } = await db.query<{ position: number; model_version: string; ranker_version: string }>(
        `WITH q AS (SELECT id, result_ids, model_version, ranker_version FROM search_queries
                    WHERE id = $1::uuid AND caller_ref IS NOT DISTINCT FROM $3),
         inserted AS (
           INSERT INTO clicks (query_id, image_id, position)
           SELECT q.id, i.id, array_position(q.result_ids, i.id) - 1
           FROM q JOIN images i ON i.id = $2::bigint
           WHERE i.id = ANY (q.result_ids)
             AND i.status = 'INDEXED' AND i.deleted_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM safety_blocklist b WHERE b.image_id = i.id)
           ON CONFLICT (query_id, image_id) DO NOTHING
           RETURNING position)
         SELECT inserted.position, q.model_version, q.ranker_version FROM inserted, q`,
        [queryId, imageId, callerRef],
      );
      const row = rows[0];
      return row
        ? { position: row.position, modelVersion: row.model_version, rankerVersion: row.ranker_version }
        : null;
    },

    /** Why a click was not inserted: who ran the query, whether it showed the image, an earlier click. */
    async clickRefusal(
      queryId: string,
      imageId: string,
    ): Promise<{ callerRef: string | null; shown: boolean; clickedPosition: number | null } | null> {
      const { rows } = await db.query<{ caller_ref: string | null; shown: boolean; clicked: number | null }>(
        `SELECT q.caller_ref, $2::bigint = ANY (q.result_ids) AS shown,
           (SELECT c.position FROM clicks c WHERE c.query_id = q.id AND c.image_id = $2::bigint) AS clicked
         FROM search_queries q WHERE q.id = $1::uuid`,
        [queryId, imageId],
      );
      const row = rows[0];
      return row ? { callerRef: row.caller_ref, shown: row.shown, clickedPosition: row.clicked } : null;
    },

    /**
     * Logs the impression of an answer the edge served from its cache: a copy of the query row
     * `sourceId` under the new id the edge handed out, run by `callerRef`. False when the source
     * row is not there (yet) or the id is taken; else the versions the copied query ran under.
     */
    async copyQuery(
      sourceId: string,
      queryId: string,
      callerRef: string,
    ): Promise<{ modelVersion: string; rankerVersion: string } | null> {
      const { rows } = await db.query<{ model_version: string; ranker_version: string }>(
        `INSERT INTO search_queries (id, query_text, image_ref, fusion, text_weight, filters, result_ids,
           model_version, ranker_version, latency_ms, partial, api_key_id, caller_ref)
         SELECT $2::uuid, query_text, image_ref, fusion, text_weight, filters, result_ids,
           model_version, ranker_version, 0, partial, NULL, $3
         FROM search_queries WHERE id = $1::uuid
         ON CONFLICT (id) DO NOTHING
         RETURNING model_version, ranker_version`,
        [sourceId, queryId, callerRef],
      );
      const row = rows[0];
      return row ? { modelVersion: row.model_version, rankerVersion: row.ranker_version } : null;
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
