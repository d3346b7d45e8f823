import { repeatEvery } from '../../../search-cluster/src/runtime/repeat.ts';
import type { Database } from './database.ts';

/** What a pass needs: statements and scripts outside any transaction. */
export type Maintainable = Pick<Database, 'query' | 'exec'>;

/**
 * PGlite has no autovacuum: it is one backend in single-user mode, with no launcher and no
 * workers. Without it the planner never gets statistics (a table never analyzed is planned from
 * its page count alone) and dead rows are never removed. Under load the per-search hydration
 * (`images WHERE id = ANY(...)`) then stays a sequential scan of the whole images table, so every
 * search costs more as images arrive, and PGlite runs on the main thread: that is event-loop lag
 * (issue 12, the soak). This does what autovacuum would, with its default thresholds: VACUUM a
 * table with many dead rows (or many rows inserted since its last vacuum), ANALYZE one with many
 * changes since its last analyze. Postgres proper runs its own autovacuum; this is for PGlite only.
 */

/** autovacuum_vacuum_threshold / _scale_factor, analyze and insert ones: Postgres' defaults. */
const THRESHOLDS = {
  vacuum: { base: 50, scale: 0.2 },
  analyze: { base: 50, scale: 0.1 },
  insert: { base: 1000, scale: 0.2 },
};

export interface AutovacuumOutcome {
  vacuumed: string[];
  analyzed: string[];
}

/** The tables of the current schema past a threshold, and what they need. */
const DUE = `
  SELECT s.relname AS name,
         s.n_dead_tup > $1 + $2 * greatest(c.reltuples, 0)
           OR s.n_ins_since_vacuum > $5 + $6 * greatest(c.reltuples, 0) AS vacuum,
         s.n_mod_since_analyze > $3 + $4 * greatest(c.reltuples, 0) AS analyze
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
   WHERE s.schemaname = current_schema()
   ORDER BY s.relname`;

/** One pass: VACUUM (ANALYZE) or ANALYZE each table that is due. Touches nothing else. */
export async function autovacuumOnce(db: Maintainable): Promise<AutovacuumOutcome> {
  const { vacuum, analyze, insert } = THRESHOLDS;
  // the counters reach pg_stat_user_tables at most once a second: flush what this backend holds
  await db.query('SELECT pg_stat_force_next_flush()');
  const { rows } = await db.query<{ name: string; vacuum: boolean; analyze: boolean }>(DUE, [
    vacuum.base,
    vacuum.scale,
    analyze.base,
    analyze.scale,
    insert.base,
    insert.scale,
  ]);
  const outcome: AutovacuumOutcome = { vacuumed: [], analyzed: [] };
  for (const row of rows) {
    if (!row.vacuum && !row.analyze) continue;
    const table = `"${row.name.replaceAll('"', '""')}"`;
    // VACUUM cannot run in a transaction block: exec sends it on its own
    if (row.vacuum) {
      await db.exec(`VACUUM (ANALYZE) ${table}`);
      outcome.vacuumed.push(row.name);
      outcome.analyzed.push(row.name);
    } else {
      await db.exec(`ANALYZE ${table}`);
      outcome.analyzed.push(row.name);
    }
  }
  return outcome;
}

export interface AutovacuumOptions {
  /** Pause between the end of one pass and the start of the next. Default 30 s. */
  everyMs?: number;
  /** Told about a failed pass; the next pass tries again. Default: nothing. */
  onError?: (error: unknown) => void;
}

/** Runs `autovacuumOnce` periodically, one pass at a time. Returns stop(), which awaits a pass in progress. */
export function startAutovacuum(
  db: Maintainable,
  { everyMs = 30_000, onError = () => {} }: AutovacuumOptions = {},
) {
  return repeatEvery(everyMs, () => autovacuumOnce(db), onError);
}
