import type { Queryable } from '../db/database.ts';

/** A curated golden query: a text or a library image, and the images relevant to it. */
export interface GoldenQuery {
  id: string;
  text: string | null;
  imageId: string | null;
  relevantIds: string[];
  createdBy: string | null;
  createdAt: Date;
}

interface Row {
  id: string;
  query_text: string | null;
  image_id: string | null;
  relevant_ids: string[];
  created_by: string | null;
  created_at: Date;
}

const toQuery = (r: Row): GoldenQuery => ({
  id: r.id,
  text: r.query_text,
  imageId: r.image_id,
  relevantIds: r.relevant_ids,
  createdBy: r.created_by,
  createdAt: r.created_at,
});

const COLUMNS = `id::text AS id, query_text, image_id::text AS image_id, relevant_ids::text[] AS relevant_ids,
  created_by, created_at`;

export function createGoldenQueriesRepository(db: Queryable) {
  return {
    async list(): Promise<GoldenQuery[]> {
      const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM golden_queries ORDER BY id`);
      return rows.map(toQuery);
    },
    async add(q: {
      text: string | null;
      imageId: string | null;
      relevantIds: string[];
      createdBy: string | null;
    }) {
      const { rows } = await db.query<Row>(
        `INSERT INTO golden_queries (query_text, image_id, relevant_ids, created_by)
         VALUES ($1, $2, $3::bigint[], $4) RETURNING ${COLUMNS}`,
        [q.text, q.imageId, q.relevantIds, q.createdBy],
      );
      return toQuery(rows[0]!);
    },
    async remove(id: string): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM golden_queries WHERE id = $1', [id]);
      return rowCount === 1;
    },
    /** Which of `ids` are images that exist (not deleted). */
    async existingImages(ids: readonly string[]): Promise<Set<string>> {
      const { rows } = await db.query<{ id: string }>(
        `SELECT id::text AS id FROM images WHERE id = ANY($1::bigint[]) AND deleted_at IS NULL`,
        [ids],
      );
      return new Set(rows.map((r) => r.id));
    },
  };
}
export type GoldenQueriesRepository = ReturnType<typeof createGoldenQueriesRepository>;
