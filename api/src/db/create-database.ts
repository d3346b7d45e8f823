import path from 'node:path';
import type { LogSink } from '../../../search-cluster/src/index.ts';
import { acquireDataDirLock } from './data-dir-lock.ts';
import type { Database } from './database.ts';
import { createPgDatabase } from './pg-database.ts';
import { createPgliteDatabase } from './pglite-database.ts';

/**
 * pg when a URL is given, otherwise PGlite under dataDir (or in memory when dataDir is null).
 * An embedded dataDir is this process's alone until close(): a second process gets
 * DataDirLockedError naming the holder.
 */
export async function createDatabase(options: {
  databaseUrl: string | null;
  dataDir: string | null;
  /** Pool errors (an idle client's server restarted). */
  log?: Pick<LogSink, 'error'>;
  /** Names this process in the lock, for the message another process prints. Default the script name. */
  purpose?: string;
}): Promise<Database> {
  if (options.databaseUrl)
    return createPgDatabase(options.databaseUrl, options.log ? { log: options.log } : {});
  if (!options.dataDir) return createPgliteDatabase(null);
  // the script this process runs (main.ts, worker-main.ts, ...) tells an operator what holds it
  const purpose = options.purpose ?? path.basename(process.argv[1] ?? 'pixelfind');
  const lock = await acquireDataDirLock(options.dataDir, purpose);
  let db: Database;
  try {
    db = await createPgliteDatabase(path.join(options.dataDir, 'pglite'));
  } catch (error) {
    await lock.release();
    throw error;
  }
  return {
    engine: db.engine,
    get statementCount() {
      return db.statementCount;
    },
    query: (sql, params) => db.query(sql, params),
    transaction: (fn) => db.transaction(fn),
    exec: (sql) => db.exec(sql),
    async close() {
      try {
        await db.close();
      } finally {
        await lock.release();
      }
    },
  };
}
