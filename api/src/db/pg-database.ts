import pg from 'pg';
import type { LogSink } from '../../../search-cluster/src/index.ts';
import type { Database, QueryOptions, QueryResult, Transaction } from './database.ts';

// int8 and numeric come back as strings by default; ids are selected as text on purpose,
// counts are small enough for a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export function createPgDatabase(
  connectionString: string,
  options: { max?: number; log?: Pick<LogSink, 'error'> } = {},
): Database {
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10 });
  // an idle client's error (server restart) must not crash the process
  pool.on('error', (error) => options.log?.error('pg pool', { error: error.message }));
  let statements = 0;

  const run = async <Row>(
    client: pg.Pool | pg.PoolClient,
    sql: string,
    params?: unknown[],
    options?: QueryOptions,
  ) => {
    statements += 1;
    const result = options?.prepareAs
      ? await client.query({ name: options.prepareAs, text: sql, values: params as unknown[] })
      : await client.query(sql, params as unknown[]);
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 } satisfies QueryResult<Row>;
  };

  return {
    engine: 'postgres',
    get statementCount() {
      return statements;
    },
    query: (sql, params, options) => run(pool, sql, params, options),
    async transaction(fn) {
      const client = await pool.connect();
      const tx: Transaction = {
        query: (sql, params, options) => run(client, sql, params, options),
        // no parameters: the simple query protocol, which takes several statements
        exec: async (sql) => {
          statements += 1;
          await client.query(sql);
        },
      };
      try {
        await client.query('BEGIN');
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    async exec(sql) {
      statements += 1;
      await pool.query(sql);
    },
    close: () => pool.end(),
  };
}
