import type { Queryable } from '../db/database.ts';

export const VERSION_STATES = ['BUILDING', 'READY', 'ACTIVE', 'PREVIOUS', 'RETIRED', 'FAILED'] as const;
export type VersionState = (typeof VERSION_STATES)[number];

/** States whose index is kept loaded and receives every new upload (dual writes). */
export const WARM_STATES: readonly VersionState[] = ['ACTIVE', 'BUILDING', 'READY', 'PREVIOUS'];

/** The gate's stored numbers (null: not measured). */
export interface StoredEvaluation {
  goldenRecallAt10: number | null;
  ndcgAt10: number | null;
  annRecallText: number | null;
  annRecallImage: number | null;
  goldenQueries: number | null;
  similarityFloor: number | null;
  /** Everything measured, for whoever asks why (per-query numbers, verdict). */
  detail: Record<string, unknown> | null;
  evaluatedAt: Date | null;
}

export interface IndexVersion {
  modelVersion: string;
  dimension: number;
  state: VersionState;
  progress: { done: number; total: number };
  reindexCursor: string;
  trafficFraction: number;
  evaluation: StoredEvaluation;
  lastError: string | null;
  createdAt: Date;
  startedAt: Date | null;
  readyAt: Date | null;
  promotedAt: Date | null;
  demotedAt: Date | null;
  retiredAt: Date | null;
  failedAt: Date | null;
  updatedAt: Date;
}

interface Row {
  model_version: string;
  dim: number;
  state: VersionState;
  progress_done: string;
  progress_total: string;
  reindex_cursor: string;
  traffic_fraction: number;
  golden_recall_at_10: number | null;
  ndcg_at_10: number | null;
  ann_recall_text: number | null;
  ann_recall_image: number | null;
  golden_queries: number | null;
  similarity_floor: number | null;
  evaluation: Record<string, unknown> | null;
  evaluated_at: Date | null;
  last_error: string | null;
  created_at: Date;
  started_at: Date | null;
  ready_at: Date | null;
  promoted_at: Date | null;
  demoted_at: Date | null;
  retired_at: Date | null;
  failed_at: Date | null;
  updated_at: Date;
}

const COLUMNS = `model_version, dim, state, progress_done::text, progress_total::text, reindex_cursor::text,
  traffic_fraction, golden_recall_at_10, ndcg_at_10, ann_recall_text, ann_recall_image, golden_queries,
  similarity_floor, evaluation, evaluated_at, last_error, created_at, started_at, ready_at, promoted_at,
  demoted_at, retired_at, failed_at, updated_at`;

const toVersion = (r: Row): IndexVersion => ({
  modelVersion: r.model_version,
  dimension: r.dim,
  state: r.state,
  progress: { done: Number(r.progress_done), total: Number(r.progress_total) },
  reindexCursor: r.reindex_cursor,
  trafficFraction: r.traffic_fraction,
  evaluation: {
    goldenRecallAt10: r.golden_recall_at_10,
    ndcgAt10: r.ndcg_at_10,
    annRecallText: r.ann_recall_text,
    annRecallImage: r.ann_recall_image,
    goldenQueries: r.golden_queries,
    similarityFloor: r.similarity_floor,
    detail: r.evaluation,
    evaluatedAt: r.evaluated_at,
  },
  lastError: r.last_error,
  createdAt: r.created_at,
  startedAt: r.started_at,
  readyAt: r.ready_at,
  promotedAt: r.promoted_at,
  demotedAt: r.demoted_at,
  retiredAt: r.retired_at,
  failedAt: r.failed_at,
  updatedAt: r.updated_at,
});

/** A live image a re-index walks: indexed, not deleted, its own vector (not a duplicate pointer). */
const LIVE_IMAGE = `i.status = 'INDEXED' AND i.deleted_at IS NULL AND i.duplicate_of IS NULL`;

/** index_versions: the state machine of each model version's index set (blue-green). */
export function createIndexVersionsRepository(db: Queryable) {
  const one = async (sql: string, params: unknown[]) => {
    const { rows } = await db.query<Row>(sql, params);
    return rows[0] ? toVersion(rows[0]) : null;
  };
  return {
    async list(): Promise<IndexVersion[]> {
      const { rows } = await db.query<Row>(
        `SELECT ${COLUMNS} FROM index_versions ORDER BY created_at, model_version`,
      );
      return rows.map(toVersion);
    },
    get: (modelVersion: string) =>
      one(`SELECT ${COLUMNS} FROM index_versions WHERE model_version = $1`, [modelVersion]),
    active: () => one(`SELECT ${COLUMNS} FROM index_versions WHERE state = 'ACTIVE'`, []),
    /** With no version recorded yet, `modelVersion` (the one serving today) becomes ACTIVE. */
    async ensureActive(modelVersion: string, dimension: number): Promise<void> {
      await db.query(
        `INSERT INTO index_versions (model_version, dim, state, promoted_at, ready_at)
         SELECT $1, $2, 'ACTIVE', now(), now()
          WHERE NOT EXISTS (SELECT 1 FROM index_versions)
         ON CONFLICT (model_version) DO NOTHING`,
        [modelVersion, dimension],
      );
    },
    /**
     * A new (or retired, failed, cancelled) version starts building from scratch: cursor 0, the
     * live images counted. Null when the version is ACTIVE, PREVIOUS, BUILDING or READY.
     */
    startBuilding: (modelVersion: string, dimension: number) =>
      one(
        `INSERT INTO index_versions AS v (model_version, dim, state, started_at, progress_total)
         VALUES ($1, $2, 'BUILDING', now(), (SELECT count(*) FROM images i WHERE ${LIVE_IMAGE}))
         ON CONFLICT (model_version) DO UPDATE
           SET state = 'BUILDING', dim = EXCLUDED.dim, started_at = now(), progress_done = 0,
               progress_total = EXCLUDED.progress_total, reindex_cursor = 0, lease_owner = NULL,
               lease_expires_at = NULL, last_error = NULL, failed_at = NULL, retired_at = NULL,
               ready_at = NULL, evaluated_at = NULL, evaluation = NULL, golden_recall_at_10 = NULL,
               ndcg_at_10 = NULL, ann_recall_text = NULL, ann_recall_image = NULL,
               golden_queries = NULL, similarity_floor = NULL, updated_at = now()
           WHERE v.state IN ('RETIRED', 'FAILED')
         RETURNING ${COLUMNS}`,
        [modelVersion, dimension],
      ),
    /** Takes the build of one BUILDING version whose runner is gone (or never started). */
    claimBuild: (owner: string, leaseSeconds: number) =>
      one(
        `UPDATE index_versions SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2),
                updated_at = now()
          WHERE model_version = (
            SELECT model_version FROM index_versions
             WHERE state = 'BUILDING' AND (lease_owner IS NULL OR lease_expires_at < now())
             ORDER BY started_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING ${COLUMNS}`,
        [owner, leaseSeconds],
      ),
    /** Extends the runner's lease; false when it lost it (cancelled, or taken over). */
    async renewBuild(modelVersion: string, owner: string, leaseSeconds: number): Promise<boolean> {
      const { rowCount } = await db.query(
        `UPDATE index_versions SET lease_expires_at = now() + make_interval(secs => $3)
          WHERE model_version = $1 AND lease_owner = $2 AND state = 'BUILDING'`,
        [modelVersion, owner, leaseSeconds],
      );
      return rowCount === 1;
    },
    async releaseBuild(modelVersion: string, owner: string): Promise<void> {
      await db.query(
        `UPDATE index_versions SET lease_owner = NULL, lease_expires_at = NULL
          WHERE model_version = $1 AND lease_owner = $2`,
        [modelVersion, owner],
      );
    },
    /** The next live images after the cursor, in id order. */
    async imagesAfter(cursor: string, limit: number): Promise<{ id: string; storage_url: string }[]> {
      const { rows } = await db.query<{ id: string; storage_url: string }>(
        `SELECT i.id::text AS id, i.storage_url FROM images i
          WHERE i.id > $1 AND ${LIVE_IMAGE} ORDER BY i.id LIMIT $2`,
        [cursor, limit],
      );
      return rows;
    },
    /** Live images still without a vector of `modelVersion` (uploads that raced the walk). */
    async missing(modelVersion: string, limit: number): Promise<{ id: string; storage_url: string }[]> {
      const { rows } = await db.query<{ id: string; storage_url: string }>(
        `SELECT i.id::text AS id, i.storage_url FROM images i
          WHERE ${LIVE_IMAGE} AND NOT EXISTS (
            SELECT 1 FROM embeddings e WHERE e.image_id = i.id AND e.model_version = $1 AND e.deleted_at IS NULL)
          ORDER BY i.id LIMIT $2`,
        [modelVersion, limit],
      );
      return rows;
    },
    /** Moves the cursor past a batch whose vectors are committed; only the lease holder can. */
    async advance(modelVersion: string, owner: string, cursor: string, done: number): Promise<boolean> {
      const { rowCount } = await db.query(
        `UPDATE index_versions
            SET reindex_cursor = greatest(reindex_cursor, $3::bigint), progress_done = progress_done + $4,
                progress_total = greatest(progress_total, progress_done + $4), updated_at = now()
          WHERE model_version = $1 AND lease_owner = $2 AND state = 'BUILDING'`,
        [modelVersion, owner, cursor, done],
      );
      return rowCount === 1;
    },
    /** The walk is done: progress becomes exact (every live image has a vector). */
    async finishBuild(modelVersion: string, owner: string): Promise<boolean> {
      const { rowCount } = await db.query(
        `UPDATE index_versions v
            SET progress_total = c.n, progress_done = c.n, updated_at = now()
           FROM (SELECT count(*) AS n FROM images i WHERE ${LIVE_IMAGE}) c
          WHERE v.model_version = $1 AND v.lease_owner = $2 AND v.state = 'BUILDING'`,
        [modelVersion, owner],
      );
      return rowCount === 1;
    },
    /** Stores an evaluation; a BUILDING version (its lease holder's) becomes READY with it. */
    async saveEvaluation(modelVersion: string, e: StoredEvaluation, owner: string | null): Promise<void> {
      await db.query(
        `UPDATE index_versions
            SET golden_recall_at_10 = $2, ndcg_at_10 = $3, ann_recall_text = $4, ann_recall_image = $5,
                golden_queries = $6, similarity_floor = $7, evaluation = $8, evaluated_at = now(),
                state = CASE WHEN state = 'BUILDING' AND lease_owner = $9 THEN 'READY' ELSE state END,
                ready_at = CASE WHEN state = 'BUILDING' AND lease_owner = $9 THEN now() ELSE ready_at END,
                lease_owner = CASE WHEN lease_owner = $9 THEN NULL ELSE lease_owner END,
                updated_at = now()
          WHERE model_version = $1`,
        [
          modelVersion,
          e.goldenRecallAt10,
          e.ndcgAt10,
          e.annRecallText,
          e.annRecallImage,
          e.goldenQueries,
          e.similarityFloor,
          e.detail ? JSON.stringify(e.detail) : null,
          owner,
        ],
      );
    },
    async markFailed(modelVersion: string, error: string): Promise<void> {
      await db.query(
        `UPDATE index_versions SET state = 'FAILED', failed_at = now(), last_error = $2, lease_owner = NULL,
                traffic_fraction = 0, updated_at = now()
          WHERE model_version = $1 AND state IN ('BUILDING', 'READY')`,
        [modelVersion, error.slice(0, 2000)],
      );
    },
    /** Stops a build: RETIRED, with the reason. False when it was not BUILDING. */
    async cancel(modelVersion: string, reason: string): Promise<boolean> {
      const { rowCount } = await db.query(
        `UPDATE index_versions SET state = 'RETIRED', retired_at = now(), last_error = $2, lease_owner = NULL,
                updated_at = now()
          WHERE model_version = $1 AND state = 'BUILDING'`,
        [modelVersion, reason],
      );
      return rowCount === 1;
    },
    async setTraffic(modelVersion: string, fraction: number): Promise<boolean> {
      const { rowCount } = await db.query(
        `UPDATE index_versions SET traffic_fraction = $2, updated_at = now()
          WHERE model_version = $1 AND state = 'READY'`,
        [modelVersion, fraction],
      );
      return rowCount === 1;
    },
    /**
     * READY -> ACTIVE; the ACTIVE becomes PREVIOUS (warm for rollback), the PREVIOUS before it is
     * RETIRED. One statement per row inside the caller's transaction; the database refuses two
     * ACTIVE (unique index) or none (deferred trigger).
     */
    async promote(modelVersion: string): Promise<{ previous: string | null; retired: string | null }> {
      const retired = await db.query<{ model_version: string }>(
        `UPDATE index_versions SET state = 'RETIRED', retired_at = now(), updated_at = now()
          WHERE state = 'PREVIOUS' RETURNING model_version`,
      );
      const previous = await db.query<{ model_version: string }>(
        `UPDATE index_versions SET state = 'PREVIOUS', demoted_at = now(), updated_at = now()
          WHERE state = 'ACTIVE' RETURNING model_version`,
      );
      await db.query(
        `UPDATE index_versions SET state = 'ACTIVE', promoted_at = now(), traffic_fraction = 0, updated_at = now()
          WHERE model_version = $1 AND state = 'READY'`,
        [modelVersion],
      );
      return {
        previous: previous.rows[0]?.model_version ?? null,
        retired: retired.rows[0]?.model_version ?? null,
      };
    },
    /** PREVIOUS -> ACTIVE and the ACTIVE back to READY (it can be promoted again). */
    async rollback(): Promise<{ active: string; from: string } | null> {
      const from = await db.query<{ model_version: string }>(
        `UPDATE index_versions SET state = 'READY', demoted_at = now(), updated_at = now()
          WHERE state = 'ACTIVE' AND EXISTS (SELECT 1 FROM index_versions WHERE state = 'PREVIOUS')
         RETURNING model_version`,
      );
      if (!from.rows[0]) return null;
      const to = await db.query<{ model_version: string }>(
        `UPDATE index_versions SET state = 'ACTIVE', promoted_at = now(), demoted_at = NULL, updated_at = now()
          WHERE state = 'PREVIOUS' RETURNING model_version`,
      );
      return { active: to.rows[0]!.model_version, from: from.rows[0].model_version };
    },
    /** PREVIOUS versions demoted more than `windowSeconds` ago become RETIRED; returns them. */
    async retireCold(windowSeconds: number): Promise<string[]> {
      const { rows } = await db.query<{ model_version: string }>(
        `UPDATE index_versions SET state = 'RETIRED', retired_at = now(), updated_at = now()
          WHERE state = 'PREVIOUS' AND demoted_at < now() - make_interval(secs => $1)
         RETURNING model_version`,
        [windowSeconds],
      );
      return rows.map((r) => r.model_version);
    },
    /** A retired version's vectors of record, dropped when the setting says so. */
    async dropEmbeddings(modelVersion: string): Promise<number> {
      const { rowCount } = await db.query(
        `DELETE FROM embeddings e USING index_versions v
          WHERE e.model_version = $1 AND v.model_version = $1 AND v.state = 'RETIRED'`,
        [modelVersion],
      );
      return rowCount;
    },
  };
}
export type IndexVersionsRepository = ReturnType<typeof createIndexVersionsRepository>;
