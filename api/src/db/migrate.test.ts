import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresAvailable } from '../../../test/support/backends.ts';
import type { Database } from './database.ts';
import { migrate } from './migrate.ts';
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

const engines: { name: string; open(): Promise<{ db: Database; drop(): Promise<void> }> }[] = [
  {
    name: 'pglite',
    async open() {
      const db = await createPgliteDatabase(null);
      return { db, drop: () => db.close() };
    },
  },
  ...(postgresAvailable ? [{ name: 'postgres', open: () => createTestDatabase({ max: 2 }) }] : []),
];

describe.each(engines)('migrate on $name', (engine) => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pf-migrations-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs `check` on a fresh database, dropped afterwards. */
  const onFreshDatabase = async (check: (db: Database) => Promise<void>) => {
    const { db, drop } = await engine.open();
    try {
      await check(db);
    } finally {
      await drop();
    }
  };
  /** A migrations folder of its own holding one file. */
  const migrationsWith = async (folder: string, file: string, sql: string) => {
    const migrations = path.join(dir, `${folder}-${engine.name}`);
    await mkdir(migrations);
    await writeFile(path.join(migrations, file), sql);
    return migrations;
  };

  it('runs a file with a $$ function body whole, once', () =>
    onFreshDatabase(async (db) => {
      const migrations = await migrationsWith('dollar', '0001_dollar.sql', WITH_DOLLAR_BODY);
      expect(await migrate(db, migrations)).toEqual(['0001_dollar.sql']);
      const { rows } = await db.query<{ body: string; again: string }>(
        `SELECT body, shout('x') AS again FROM notes WHERE id = 1`,
      );
      expect(rows).toEqual([{ body: 'SEMI; COLON;\nINSIDE!', again: 'X!' }]);
      expect(await migrate(db, migrations)).toEqual([]);
    }));

  it('rolls a failing file back whole and records nothing for it', () =>
    onFreshDatabase(async (db) => {
      const migrations = await migrationsWith('broken', '0001_broken.sql', BROKEN);
      await expect(migrate(db, migrations)).rejects.toThrow(/no_such_function/);
      const { rows } = await db.query<{ t: string | null }>(`SELECT to_regclass('half')::text AS t`);
      expect(rows[0]!.t).toBeNull();
      const seen = await db.query('SELECT 1 FROM schema_migrations');
      expect(seen.rowCount).toBe(0);
    }));

  it('applies the real migrations', () =>
    onFreshDatabase(async (db) => {
      const applied = await migrate(db);
      expect(applied[0]).toBe('0001_init.sql');
      expect(await migrate(db)).toEqual([]);
    }));
});
