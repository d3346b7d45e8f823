import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable, TEST_DATABASE_URL } from '../../../test/support/backends.ts';
import type { Database } from './database.ts';
import { migrate } from './migrate.ts';
import { createPgDatabase } from './pg-database.ts';
import { createPgliteDatabase } from './pglite-database.ts';

// a function body with semicolons on their own lines: the old `;\n` splitter cut it in three
const WITH_DOLLAR_BODY = `-- a trigger-style function, as later migrations will need
CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);

CREATE FUNCTION shout(value text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  loud text;
BEGIN
  loud := upper(value);
  RETURN loud || '!';
END;
$$;

INSERT INTO notes VALUES (1, shout('semi; colon;
inside'));
`;
const BROKEN = `CREATE TABLE half (id int);
SELECT no_such_function();
`;

async function withEngines(): Promise<
  { name: string; open(): Promise<{ db: Database; drop(): Promise<void> }> }[]
> {
  const engines = [
    {
      name: 'pglite',
      async open() {
        const db = await createPgliteDatabase(null);
        return { db, drop: () => db.close() };
      },
    },
  ];
  if (postgresAvailable) {
    engines.push({
      name: 'postgres',
      async open() {
        const name = `pf_test_${randomBytes(6).toString('hex')}`;
        const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
        await admin.connect();
        await admin.query(`CREATE DATABASE ${name}`);
        await admin.end();
        const url = new URL(TEST_DATABASE_URL);
        url.pathname = `/${name}`;
        const db = createPgDatabase(url.toString(), { max: 2 });
        return {
          db,
          async drop() {
            await db.close();
            const dropper = new pg.Client({ connectionString: TEST_DATABASE_URL });
            await dropper.connect();
            await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
            await dropper.end();
          },
        };
      },
    });
  }
  return engines;
}

const engines = await withEngines();

describe.each(engines)('migrate on $name', (engine) => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pf-migrations-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a file with a $$ function body whole, once', async () => {
    const { db, drop } = await engine.open();
    try {
      const migrations = path.join(dir, `dollar-${engine.name}`);
      await mkdir(migrations);
      await writeFile(path.join(migrations, '0001_dollar.sql'), WITH_DOLLAR_BODY);
      expect(await migrate(db, migrations)).toEqual(['0001_dollar.sql']);
      const { rows } = await db.query<{ body: string; again: string }>(
        `SELECT body, shout('x') AS again FROM notes WHERE id = 1`,
      );
      expect(rows).toEqual([{ body: 'SEMI; COLON;\nINSIDE!', again: 'X!' }]);
      expect(await migrate(db, migrations)).toEqual([]);
    } finally {
      await drop();
    }
  });

  it('rolls a failing file back whole and records nothing for it', async () => {
    const { db, drop } = await engine.open();
    try {
      const migrations = path.join(dir, `broken-${engine.name}`);
      await mkdir(migrations);
      await writeFile(path.join(migrations, '0001_broken.sql'), BROKEN);
      await expect(migrate(db, migrations)).rejects.toThrow(/no_such_function/);
      const { rows } = await db.query<{ t: string | null }>(`SELECT to_regclass('half')::text AS t`);
      expect(rows[0]!.t).toBeNull();
      const seen = await db.query('SELECT 1 FROM schema_migrations');
      expect(seen.rowCount).toBe(0);
    } finally {
      await drop();
    }
  });

  it('applies the real migrations', async () => {
    const { db, drop } = await engine.open();
    try {
      const applied = await migrate(db);
      expect(applied[0]).toBe('0001_init.sql');
      expect(await migrate(db)).toEqual([]);
    } finally {
      await drop();
    }
  });
});
