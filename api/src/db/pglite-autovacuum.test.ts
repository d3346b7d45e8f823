import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from './database.ts';
import { migrate } from './migrate.ts';
import { autovacuumOnce } from './pglite-autovacuum.ts';
import { createPgliteDatabase } from './pglite-database.ts';

// the per-search hydration statement (images.repository findByIds), reduced to what the plan needs
const FIND_BY_IDS = `SELECT id::text AS id, status,
  EXISTS (SELECT 1 FROM safety_blocklist b WHERE b.image_id = images.id) AS flagged
  FROM images WHERE id = ANY($1::bigint[])`;
const IMAGES = 1200;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Shared Hit Blocks': number;
  'Shared Read Blocks': number;
  Plans?: PlanNode[];
}
const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];

async function plan(db: Database, ids: string[]) {
  const { rows } = await db.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${FIND_BY_IDS}`,
    [ids],
  );
  const root = rows[0]!['QUERY PLAN'][0]!.Plan;
  const onImages = nodes(root).filter(
    (n) => n['Relation Name'] === 'images' || n['Index Name'] === 'images_pkey',
  );
  return { onImages, blocks: root['Shared Hit Blocks'] + root['Shared Read Blocks'] };
}

describe('PGlite autovacuum (PGlite has none of its own)', () => {
  let db: Database;
  const newest = Array.from({ length: 100 }, (_, i) => String(IMAGES - i));

  beforeAll(async () => {
    db = await createPgliteDatabase(null);
    await migrate(db);
    // the soak's shape: images arrive one by one and are updated once when indexed
    for (let n = 1; n <= IMAGES; n++) {
      await db.query(
        `INSERT INTO images (storage_url, mime_type, byte_size, width, height, uploader_id, sha256, status)
         VALUES ('blob/' || $1, 'image/png', 100, 64, 64, 'u', lpad(to_hex($1::int), 64, '0'), 'PENDING')`,
        [n],
      );
      await db.query(`UPDATE images SET status = 'INDEXED', safety_score = 0.9 WHERE id = $1`, [n]);
    }
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it('without it, the per-search hydration reads every page of images', async () => {
    const before = await plan(db, newest);
    expect(before.onImages.map((n) => n['Node Type'])).toContain('Seq Scan');
  });

  it('a pass analyzes the grown tables, and the hydration then reads images through its primary key', async () => {
    const outcome = await autovacuumOnce(db);
    expect(outcome.analyzed).toContain('images');
    // images had one dead row per image (the status update): past the vacuum threshold
    expect(outcome.vacuumed).toContain('images');

    const after = await plan(db, newest);
    expect(after.onImages.every((n) => n['Node Type'] !== 'Seq Scan')).toBe(true);
    expect(after.onImages.some((n) => n['Index Name'] === 'images_pkey')).toBe(true);
    // bounded by the 100 ids asked for, not by the table: far fewer pages than the table has
    const { rows } = await db.query<{ pages: number }>(
      `SELECT relpages AS pages FROM pg_class WHERE relname = 'images'`,
    );
    expect(after.blocks).toBeLessThan(rows[0]!.pages);
  });

  it('a table that has not changed since the last pass is left alone', async () => {
    await autovacuumOnce(db);
    const again = await autovacuumOnce(db);
    expect(again).toEqual({ vacuumed: [], analyzed: [] });
  });
});
