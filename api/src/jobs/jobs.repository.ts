import type { Queryable } from '../db/database.ts';

export type JobTrigger = 'schedule' | 'threshold' | 'demand' | 'interval';
export type JobOutcome = 'running' | 'ok' | 'failed' | 'skipped';

export interface JobRunRecord {
  id: string;
  job: string;
  trigger: JobTrigger;
  owner: string;
  outcome: JobOutcome;
  started_at: Date;
  finished_at: Date | null;
  duration_ms: number | null;
  error: string | null;
  details: Record<string, unknown>;
}

const RUN_COLUMNS = `id::text AS id, job, trigger, owner, outcome, started_at, finished_at, duration_ms, error, details`;

/** Rows each job keeps in job_runs; older ones are dropped as new ones finish. */
export const RUNS_KEPT_PER_JOB = 50;

/** The leases and job_runs tables (migration 0010): who runs a job, and how its runs went. */
export function createJobsRepository(db: Queryable) {
  return {
    /**
     * Takes the lease `name` for `seconds` when it is free (expired or released) or already
     * ours. With a `slot` (a cron tick's scheduled time) it is taken only for a slot later than
     * the last one taken, so two processes ticking for the same slot run it once. Returns whether
     * this owner holds it now.
     */
    async acquireLease(name: string, owner: string, seconds: number, slot: Date | null = null) {
      const { rowCount } = await db.query(
        `INSERT INTO leases (name, owner, expires_at, slot)
         VALUES ($1, $2, now() + make_interval(secs => $3), $4)
         ON CONFLICT (name) DO UPDATE
            SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at,
                slot = coalesce(EXCLUDED.slot, leases.slot), updated_at = now()
          WHERE (leases.expires_at < now() OR leases.owner = EXCLUDED.owner)
            AND (EXCLUDED.slot IS NULL OR leases.slot IS NULL OR leases.slot < EXCLUDED.slot)`,
        [name, owner, seconds, slot],
      );
      return rowCount > 0;
    },

    /** Extends a lease this owner holds; false when it was lost (expired and taken). */
    async renewLease(name: string, owner: string, seconds: number): Promise<boolean> {
      const { rowCount } = await db.query(
        `UPDATE leases SET expires_at = now() + make_interval(secs => $3), updated_at = now()
         WHERE name = $1 AND owner = $2`,
        [name, owner, seconds],
      );
      return rowCount > 0;
    },

    /** Frees a lease at once (the slot stays, so the same tick is not run again). */
    async releaseLease(name: string, owner: string): Promise<void> {
      await db.query(
        `UPDATE leases SET expires_at = now() - interval '1 second', updated_at = now()
         WHERE name = $1 AND owner = $2`,
        [name, owner],
      );
    },

    /** Who holds a lease now; null when nobody does. */
    async leaseHolder(name: string): Promise<{ owner: string; expires_at: Date } | null> {
      const { rows } = await db.query<{ owner: string; expires_at: Date }>(
        'SELECT owner, expires_at FROM leases WHERE name = $1 AND expires_at >= now()',
        [name],
      );
      return rows[0] ?? null;
    },

    async startRun(job: string, trigger: JobTrigger, owner: string, details: Record<string, unknown> = {}) {
      const { rows } = await db.query<JobRunRecord>(
        `INSERT INTO job_runs (job, trigger, owner, outcome, details) VALUES ($1, $2, $3, 'running', $4)
         RETURNING ${RUN_COLUMNS}`,
        [job, trigger, owner, JSON.stringify(details)],
      );
      return rows[0]!;
    },

    /** Records how a run ended and drops the job's rows beyond the newest RUNS_KEPT_PER_JOB. */
    async finishRun(
      id: string,
      outcome: Exclude<JobOutcome, 'running'>,
      durationMs: number,
      error: string | null,
      details: Record<string, unknown>,
    ): Promise<void> {
      await db.query(
        `WITH done AS (
           UPDATE job_runs SET outcome = $2, finished_at = now(), duration_ms = $3, error = $4, details = $5
            WHERE id = $1 RETURNING job
         )
         DELETE FROM job_runs WHERE job = (SELECT job FROM done) AND id < (
           SELECT id FROM job_runs WHERE job = (SELECT job FROM done) ORDER BY id DESC OFFSET $6 LIMIT 1
         )`,
        [id, outcome, Math.round(durationMs), error, JSON.stringify(details), RUNS_KEPT_PER_JOB - 1],
      );
    },

    /** The newest runs of each job (or of `job`), newest first. */
    async lastRuns(options: { job?: string | null; limit: number }): Promise<JobRunRecord[]> {
      const { rows } = await db.query<JobRunRecord>(
        `SELECT ${RUN_COLUMNS} FROM (
           SELECT *, row_number() OVER (PARTITION BY job ORDER BY id DESC) AS n FROM job_runs
            WHERE $1::text IS NULL OR job = $1
         ) r WHERE n <= $2 ORDER BY job, n`,
        [options.job ?? null, options.limit],
      );
      return rows;
    },

    async run(id: string): Promise<JobRunRecord | null> {
      const { rows } = await db.query<JobRunRecord>(`SELECT ${RUN_COLUMNS} FROM job_runs WHERE id = $1`, [
        id,
      ]);
      return rows[0] ?? null;
    },
  };
}
export type JobsRepository = ReturnType<typeof createJobsRepository>;
