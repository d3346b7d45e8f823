import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Database, QueryResult, Transaction } from './database.ts';

/**
 * Embedded Postgres (WASM) for single-node mode. `dataDir` null keeps it in memory.
 * PGlite has one connection: it queues statements, and a transaction holds it.
 */
export async function createPgliteDatabase(dataDir: string | null): Promise<Database> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  let statements = 0;
  const run = async <Row>(target: Pick<PGlite, 'query'>, sql: string, params?: unknown[]) => {
    statements += 1;
    const result = await target.query<Row>(sql, params as unknown[]);
    // affectedRows is 0 for a SELECT: count the rows it returned
    const rowCount = result.rows.length > 0 ? result.rows.length : (result.affectedRows ?? 0);
    return { rows: result.rows, rowCount } satisfies QueryResult<Row>;
  };
  return {
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
    close: () => db.close(),
  };
}
