import { repeatEvery } from '../../../search-cluster/src/runtime/repeat.ts';
import type { Database, Queryable } from '../db/database.ts';

/** The aggregation_watermarks row of this job: the xid8 below which every row has been counted. */
export const IMAGE_STATS_WATERMARK = 'image_stats';

export interface AggregationOutcome {
  /** search_queries rows whose result_ids were counted as impressions. */
  queries: number;
  clicks: number;
  /** Images whose saves were recounted. */
  savedImages: number;
  /** Transaction id range read: [from, to). from === to when there was nothing new to read. */
  from: string;
  to: string;
}

const count = (rows: { n: unknown }[]) => Number(rows[0]?.n ?? 0);

async function addImpressions(tx: Queryable, from: string, to: string): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    `WITH q AS (
       SELECT result_ids FROM search_queries WHERE tx_id >= $1::xid8 AND tx_id < $2::xid8
     ), shown AS (
       SELECT r.image_id, count(*) AS n FROM q CROSS JOIN LATERAL unnest(q.result_ids) AS r(image_id)
       GROUP BY r.image_id
     ), added AS (
       INSERT INTO image_stats (image_id, impressions)
       SELECT shown.image_id, shown.n FROM shown JOIN images i ON i.id = shown.image_id
       ON CONFLICT (image_id) DO UPDATE
         SET impressions = image_stats.impressions + EXCLUDED.impressions, updated_at = now()
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM q)::int AS n, (SELECT count(*) FROM added)::int AS images`,
    [from, to],
  );
  return count(rows);
}

async function addClicks(tx: Queryable, from: string, to: string): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    `WITH c AS (
       SELECT image_id, count(*) AS n FROM clicks WHERE tx_id >= $1::xid8 AND tx_id < $2::xid8
       GROUP BY image_id
     ), added AS (
       INSERT INTO image_stats (image_id, clicks)
       SELECT image_id, n FROM c
       ON CONFLICT (image_id) DO UPDATE SET clicks = image_stats.clicks + EXCLUDED.clicks, updated_at = now()
       RETURNING 1
     )
     SELECT coalesce((SELECT sum(n) FROM c), 0)::int AS n, (SELECT count(*) FROM added)::int AS images`,
    [from, to],
  );
  return count(rows);
}

/** Saves are rows keyed by (image, user): recounting the touched images is exact and idempotent. */
async function recountSaves(tx: Queryable, from: string, to: string): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    `WITH touched AS (
       SELECT DISTINCT image_id FROM saves WHERE tx_id >= $1::xid8 AND tx_id < $2::xid8
     ), recounted AS (
       INSERT INTO image_stats (image_id, saves)
       SELECT t.image_id, (SELECT count(*) FROM saves s WHERE s.image_id = t.image_id) FROM touched t
       ON CONFLICT (image_id) DO UPDATE SET saves = EXCLUDED.saves, updated_at = now()
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM recounted)::int AS n`,
    [from, to],
  );
  return count(rows);
}

/**
 * Folds new impressions (search_queries.result_ids), clicks and saves into image_stats.
 *
 * Exactly once: each source row carries the id of the transaction that wrote it (tx_id, see
 * migration 0003). A run reads the transactions in [watermark, xmin) where xmin is the oldest
 * transaction still running; every transaction below it has committed or aborted, so no row can
 * appear below the new watermark later. The counts and the watermark move in one transaction:
 * a crash leaves both as they were and the next run does the same work again. Concurrent runs
 * (two API processes) queue on the watermark row's lock, and the second reads the first's result.
 *
 * A long-running transaction anywhere in the cluster holds xmin back: the job then lags (its
 * rows are counted once that transaction ends), it never skips.
 */
export async function aggregateImageStats(db: Database): Promise<AggregationOutcome> {
  return db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO aggregation_watermarks (name, position) VALUES ($1, '0') ON CONFLICT (name) DO NOTHING`,
      [IMAGE_STATS_WATERMARK],
    );
    const { rows: marks } = await tx.query<{ position: string }>(
      'SELECT position FROM aggregation_watermarks WHERE name = $1 FOR UPDATE',
      [IMAGE_STATS_WATERMARK],
    );
    const from = marks[0]!.position;
    // taken after the lock: a run that waited for another must not reuse a bound from before it
    const { rows: snapshot } = await tx.query<{ xmin: string }>(
      'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin',
    );
    const to = snapshot[0]!.xmin;
    if (BigInt(to) <= BigInt(from)) return { queries: 0, clicks: 0, savedImages: 0, from, to: from };

    const queries = await addImpressions(tx, from, to);
    const clicks = await addClicks(tx, from, to);
    const savedImages = await recountSaves(tx, from, to);
    await tx.query('UPDATE aggregation_watermarks SET position = $2, updated_at = now() WHERE name = $1', [
      IMAGE_STATS_WATERMARK,
      to,
    ]);
    return { queries, clicks, savedImages, from, to };
  });
}

/**
 * Runs the aggregation until everything committed before the call is counted, then answers the
 * last run's outcome. For tests and an operator's "refresh now"; the periodic job does not need it.
 * Throws when another transaction keeps the job from catching up for `timeoutMs` (default 10 s).
 */
export async function catchUpImageStats(
  db: Database,
  { timeoutMs = 10_000, pollMs = 20 }: { timeoutMs?: number; pollMs?: number } = {},
): Promise<AggregationOutcome> {
  // every transaction that has committed so far has an id below xmax
  const { rows } = await db.query<{ xmax: string }>(
    'SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax',
  );
  const target = BigInt(rows[0]!.xmax);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const outcome = await aggregateImageStats(db);
    if (BigInt(outcome.to) >= target) return outcome;
    if (Date.now() > deadline) {
      throw new Error(
        `image_stats did not catch up with transaction ${target} in ${timeoutMs} ms (at ${outcome.to})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

export interface StatsAggregationOptions {
  db: Database;
  /** Pause between the end of one run and the start of the next. Default 5 s. */
  everyMs?: number;
  /** Told about a failed run; the next run retries the same range. Default: nothing (services.ts logs it at error). */
  onError?: (error: unknown) => void;
  /** Told about every run that read something. */
  onRun?: (outcome: AggregationOutcome) => void;
  /** Told about every run, for job reports: ok (read something), skipped (nothing new), failed. */
  onReport?: (report: {
    outcome: 'ok' | 'skipped' | 'failed';
    durationMs: number;
    result?: AggregationOutcome;
    error?: unknown;
  }) => void;
}

/**
 * Runs `aggregateImageStats` periodically, never two at a time in this process. Returns stop(),
 * which cancels the next run and resolves once a run in progress has finished.
 */
export function startStatsAggregation({
  db,
  everyMs = 5_000,
  onError = () => {},
  onRun,
  onReport,
}: StatsAggregationOptions): () => Promise<void> {
  const report = (r: Parameters<NonNullable<typeof onReport>>[0]) => {
    try {
      onReport?.(r);
    } catch {
      // a broken reporter must not stop the job
    }
  };
  return repeatEvery(
    everyMs,
    async () => {
      const started = performance.now();
      try {
        const outcome = await aggregateImageStats(db);
        const read = outcome.from !== outcome.to;
        if (read) onRun?.(outcome);
        report({
          outcome: read ? 'ok' : 'skipped',
          durationMs: performance.now() - started,
          result: outcome,
        });
      } catch (error) {
        report({ outcome: 'failed', durationMs: performance.now() - started, error });
        throw error;
      }
    },
    onError,
  );
}
