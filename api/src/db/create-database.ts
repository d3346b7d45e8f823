import path from 'node:path';
import type { Database } from './database.ts';
import { createPgDatabase } from './pg-database.ts';
import { createPgliteDatabase } from './pglite-database.ts';

/** pg when a URL is given, otherwise PGlite under dataDir (or in memory when dataDir is null). */
export async function createDatabase(options: {
  databaseUrl: string | null;
  dataDir: string | null;
}): Promise<Database> {
  if (options.databaseUrl) return createPgDatabase(options.databaseUrl);
  return createPgliteDatabase(options.dataDir ? path.join(options.dataDir, 'pglite') : null);
}
