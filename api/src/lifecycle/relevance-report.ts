import type { Queryable } from '../db/database.ts';
import { badInput } from '../errors.ts';

export interface RelevanceRow {
  /** Start of the hour or day (UTC). */
  start: Date;
  modelVersion: string;
  rankerVersion: string;
  queries: number;
  /** Queries with at least one click. */
  clickedQueries: number;
  /** Queries one of whose results was saved within an hour of the search. */
  savedQueries: number;
  clickThroughRate: number;
  saveRate: number;
}

export interface RelevanceReport {
  window: string;
  since: Date;
  hourly: RelevanceRow[];
  daily: RelevanceRow[];
  /** The whole window per (model version, ranker version); `start` is the window's start. */
  totals: RelevanceRow[];
}

/** `1h`, `24h`, `7d`, ... (at most 90 days), in hours. */
export function parseWindow(window: string): number {
  const match = /^\s*(\d{1,4})\s*([hd])\s*$/.exec(window);
  const hours = match ? Number(match[1]) * (match[2] === 'd' ? 24 : 1) : 0;
  if (!match || hours < 1 || hours > 90 * 24) {
    throw badInput(
      `Expected a window like 1h, 24h or 7d (at most 90d) but received ${JSON.stringify(window)}`,
    );
  }
  return hours;
}

interface Row {
  start: Date;
  model_version: string;
  ranker_version: string;
  queries: number;
  clicked: number;
  saved: number;
}

const toRow = (r: Row): RelevanceRow => ({
  start: r.start,
  modelVersion: r.model_version,
  rankerVersion: r.ranker_version,
  queries: r.queries,
  clickedQueries: r.clicked,
  savedQueries: r.saved,
  clickThroughRate: r.queries ? r.clicked / r.queries : 0,
  saveRate: r.queries ? r.saved / r.queries : 0,
});

/**
 * Click-through and save rate per model version and ranker version from the query log: the
 * traffic slice's report. A query counts as clicked when any of its results was clicked, as
 * saved when one of its results was saved within an hour after it (saves carry no query id).
 */
export async function relevanceReport(db: Queryable, window: string): Promise<RelevanceReport> {
  const hours = parseWindow(window);
  const grouped = async (bucket: 'hour' | 'day' | null) => {
    const { rows } = await db.query<Row>(
      `WITH q AS (
         SELECT q.id, q.model_version, q.ranker_version, q.created_at,
                EXISTS (SELECT 1 FROM clicks c WHERE c.query_id = q.id) AS clicked,
                EXISTS (SELECT 1 FROM saves s WHERE s.image_id = ANY (q.result_ids)
                          AND s.created_at >= q.created_at AND s.created_at < q.created_at + interval '1 hour') AS saved
           FROM search_queries q
          WHERE q.created_at > now() - make_interval(hours => $1))
       SELECT ${bucket ? `date_trunc('${bucket}', created_at)` : `now() - make_interval(hours => $1)`} AS start,
              model_version, ranker_version, count(*)::int AS queries,
              (count(*) FILTER (WHERE clicked))::int AS clicked, (count(*) FILTER (WHERE saved))::int AS saved
         FROM q GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      [hours],
    );
    return rows.map(toRow);
  };
  const [hourly, daily, totals] = [await grouped('hour'), await grouped('day'), await grouped(null)];
  return { window, since: new Date(Date.now() - hours * 3_600_000), hourly, daily, totals };
}
