import path from 'node:path';
import type { LogSink } from '../../../search-cluster/src/index.ts';
import type { Database } from './database.ts';
import { createPgDatabase } from './pg-database.ts';
import { createPgliteDatabase } from './pglite-database.ts';

/** pg when a URL is given, otherwise PGlite under dataDir (or in memory when dataDir is null). */
export async function createDatabase(options: {
  databaseUrl: string | null;
  dataDir: string | null;
  /** Pool errors (an idle client's server restarted). */
  log?: Pick<LogSink, 'error'>;
}): Promise<Database> {
  if (options.databaseUrl)
    return createPgDatabase(options.databaseUrl, options.log ? { log: options.log } : {});
  return createPgliteDatabase(options.dataDir ? path.join(options.dataDir, 'pglite') : null);
}
