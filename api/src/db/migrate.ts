import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fromPackageRoot } from '../../../search-cluster/src/index.ts';
import type { Database } from './database.ts';

export const MIGRATIONS_DIR = `${fromPackageRoot('schema', 'migrations')}/`;

/**
 * Applies every `NNNN_name.sql` not yet recorded, each whole (a script of several statements,
 * so `$$` bodies and semicolons inside strings stay intact) in its own transaction, in order.
 */
export async function migrate(db: Database, dir = MIGRATIONS_DIR): Promise<string[]> {
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  for (const file of files) {
    const sql = await readFile(path.join(dir, file), 'utf8');
    const didApply = await db.transaction(async (tx) => {
      // two API processes starting together: the second waits, then sees the row
      await tx.query('SELECT pg_advisory_xact_lock(7411)');
      const seen = await tx.query('SELECT 1 FROM schema_migrations WHERE name = $1', [file]);
      if (seen.rowCount > 0) return false;
      await tx.exec(sql);
      await tx.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
      return true;
    });
    if (didApply) applied.push(file);
  }
  return applied;
}
