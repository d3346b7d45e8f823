import { loadOrExit } from '../../../search-cluster/src/index.ts';
import { loadDatabaseConfig } from '../config/config.ts';
import { createDatabase } from '../db/create-database.ts';
import { migrate } from '../db/migrate.ts';

/** `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded database). */
const config = loadOrExit(() => loadDatabaseConfig(process.env));
const db = await createDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
try {
  const applied = await migrate(db);
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
} finally {
  await db.close();
}
