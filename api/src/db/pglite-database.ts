import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Database, QueryResult, Transaction } from './database.ts';
import { startAutovacuum } from './pglite-autovacuum.ts';

/**
 * Embedded Postgres (WASM) for single-node mode. `dataDir` null keeps it in memory.
 * PGlite has one connection: it queues statements, and a transaction holds it. It has no
 * autovacuum either: the adapter runs one (pglite-autovacuum.ts) until close().
 */
export async function createPgliteDatabase(dataDir: string | null): Promise<Database> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  let statements = 0;
  const run = async <Row>(target: Pick<PGlite, 'query'>, sql: string, params?: unknown[], counted = true) => {
    if (counted) statements += 1;
    const result = await target.query<Row>(sql, params as unknown[]);
    // affectedRows is 0 for a SELECT: count the rows it returned
    const rowCount = result.rows.length > 0 ? result.rows.length : (result.affectedRows ?? 0);
    return { rows: result.rows, rowCount } satisfies QueryResult<Row>;
  };
  const database: Database = {
    engine: 'pglite',
    get statementCount() {
      return statements;
    },
    query: (sql, params) => run(db, sql, params),
    transaction: (fn) =>
      db.transaction(async (inner) => {
        const tx: Transaction = {
          query: (sql, params) => run(inner, sql, params),
          exec: async (sql) => {
            statements += 1;
            await inner.exec(sql);
          },
        };
        return fn(tx);
      }),
    async exec(sql) {
      statements += 1;
      await db.exec(sql);
    },
    async close() {
      await stopAutovacuum();
      await db.close();
    },
  };
  // PGlite has no autovacuum of its own (pglite-autovacuum.ts); its statements are not counted
  const uncounted = {
    query: <Row>(sql: string, params?: unknown[]) => run<Row>(db, sql, params, false),
    exec: async (sql: string) => {
      await db.exec(sql);
    },
  } as Pick<Database, 'query' | 'exec'>;
  const stopAutovacuum = startAutovacuum(uncounted, {
    onError: (error) =>
      process.stderr.write(
        `${JSON.stringify({ level: 'warn', component: 'pglite-autovacuum', msg: 'autovacuum pass failed', error: String(error) })}\n`,
      ),
  });
  return database;
}
