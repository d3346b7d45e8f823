import type { Queryable } from '../db/database.ts';

export interface ClaimedJob {
  id: string;
  image_id: string;
  /**
   * What to do. The column also accepts 'reindex' and carries a `model_version`, which nothing
   * writes or reads yet (the model-lifecycle work gives them a meaning); they stay out of the type.
   */
  kind: 'index' | 'delete';
  attempts: number;
}

/**
 * The job queue lives in Postgres: claiming uses FOR UPDATE SKIP LOCKED so workers never take
 * the same job, and a lease that expires hands a dead worker's jobs to a live one.
 */
export function createIndexJobsRepository(db: Queryable) {
  return {
    /** Claims up to `limit` ready jobs (queued, or running with an expired lease). */
    async claim(owner: string, limit: number, leaseSeconds: number): Promise<ClaimedJob[]> {
      const { rows } = await db.query<ClaimedJob>(
        `WITH ready AS (
           SELECT id FROM index_jobs
           WHERE run_after <= now()
             AND (state = 'queued' OR (state = 'running' AND lease_expires_at < now()))
           ORDER BY run_after, id
           LIMIT $2
           FOR UPDATE SKIP LOCKED
         )
         UPDATE index_jobs j
            SET state = 'running', lease_owner = $1, attempts = j.attempts + 1,
                lease_expires_at = now() + make_interval(secs => $3), updated_at = now()
           FROM ready WHERE j.id = ready.id
         RETURNING j.id::text AS id, j.image_id::text AS image_id, j.kind, j.attempts`,
        [owner, limit, leaseSeconds],
      );
      return rows;
    },

    /**
     * A job whose lease expired after its last allowed attempt killed its worker (segfault, OOM):
     * no live `fail()` ever saw it. Bury it, and mark its image FAILED with the reason, before
     * anyone claims it again. Returns the buried jobs.
     */
    async buryCrashLooping(
      maxAttempts: number,
    ): Promise<{ id: string; image_id: string; attempts: number }[]> {
      const { rows } = await db.query<{ id: string; image_id: string; attempts: number }>(
        `WITH dead AS (
           UPDATE index_jobs
              SET state = 'dead', lease_owner = NULL, lease_expires_at = NULL, updated_at = now(),
                  last_error = 'worker died ' || attempts || ' times holding this job (crash loop)'
                               || coalesce('; last error: ' || last_error, '')
            WHERE state = 'running' AND lease_expires_at < now() AND attempts >= $1
           RETURNING id, image_id, kind, attempts, last_error
         ), failed AS (
           UPDATE images i SET status = 'FAILED', last_error = dead.last_error, updated_at = now()
             FROM dead
            WHERE i.id = dead.image_id AND dead.kind <> 'delete' AND i.status = 'PENDING' AND i.deleted_at IS NULL
         )
         SELECT id::text AS id, image_id::text AS image_id, attempts FROM dead`,
        [maxAttempts],
      );
      return rows;
    },

    /** A live worker extends its leases; returns how many it still holds. */
    async renew(owner: string, ids: readonly string[], leaseSeconds: number): Promise<number> {
      if (ids.length === 0) return 0;
      const { rowCount } = await db.query(
        `UPDATE index_jobs SET lease_expires_at = now() + make_interval(secs => $3), updated_at = now()
         WHERE id = ANY($2::bigint[]) AND lease_owner = $1 AND state = 'running'`,
        [owner, ids, leaseSeconds],
      );
      return rowCount;
    },

    /** Done: the jobs this owner still holds among `ids` (one statement). */
    async complete(owner: string, ids: readonly string[]): Promise<void> {
      if (ids.length === 0) return;
      await db.query(
        `UPDATE index_jobs SET state = 'done', lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
         WHERE id = ANY($1::bigint[]) AND lease_owner = $2`,
        [ids, owner],
      );
    },

    /** Back to the queue after `delaySeconds`, keeping the error for whoever looks. */
    async retryLater(owner: string, id: string, error: string, delaySeconds: number): Promise<void> {
      await db.query(
        `UPDATE index_jobs SET state = 'queued', last_error = $3, lease_owner = NULL, lease_expires_at = NULL,
                run_after = now() + make_interval(secs => $4), updated_at = now()
         WHERE id = $1 AND lease_owner = $2`,
        [id, owner, error, delaySeconds],
      );
    },

    /** Parks the job (dead letter); the caller marks the image FAILED in the same transaction. */
    async bury(owner: string, id: string, error: string): Promise<void> {
      await db.query(
        `UPDATE index_jobs SET state = 'dead', last_error = $3, lease_owner = NULL, lease_expires_at = NULL,
                updated_at = now()
         WHERE id = $1 AND lease_owner = $2`,
        [id, owner, error],
      );
    },

    /** Gives jobs back at once (graceful shutdown), without counting the attempt. */
    async release(owner: string, ids: readonly string[]): Promise<void> {
      if (ids.length === 0) return;
      await db.query(
        `UPDATE index_jobs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL,
                attempts = greatest(attempts - 1, 0), updated_at = now()
         WHERE id = ANY($2::bigint[]) AND lease_owner = $1 AND state = 'running'`,
        [owner, ids],
      );
    },

    /** Is any job ready to run now (an upload or a delete waiting for a worker)? */
    async hasReady(): Promise<boolean> {
      const { rows } = await db.query<{ ready: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM index_jobs WHERE state = 'queued' AND run_after <= now()) AS ready`,
      );
      return rows[0]?.ready ?? false;
    },
    async depth(): Promise<{ queued: number; running: number; dead: number }> {
      const { rows } = await db.query<{ state: string; n: number }>(
        `SELECT state, count(*)::int AS n FROM index_jobs WHERE state <> 'done' GROUP BY state`,
      );
      const by = Object.fromEntries(rows.map((r) => [r.state, r.n]));
      return { queued: by.queued ?? 0, running: by.running ?? 0, dead: by.dead ?? 0 };
    },
  };
}
export type IndexJobsRepository = ReturnType<typeof createIndexJobsRepository>;
