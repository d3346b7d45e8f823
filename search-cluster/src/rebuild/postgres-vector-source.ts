import type { Partition } from '../shard/partition.ts';
import type { VectorChange, VectorRecord, VectorSource, VectorSourceSnapshot } from './vector-source.ts';

/** The one thing this needs from a database client (pg, PGlite or the API's Database). */
export interface SqlClient {
  query<Row>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }>;
}

/**
 * Seq values are taken when a statement runs but become visible when its transaction commits,
 * so a lower seq can appear after a higher one was read. `since` re-reads this many seqs
 * below its watermark; replaying a row is harmless (it carries the row's latest state).
 */
const COMMIT_ORDER_SLACK = 10_000n;
/** Rows a shard reads per statement. */
const PAGE = 5_000;

const toVector = (bytes: Uint8Array): Float32Array => {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
};

/**
 * Rows of `partition` only, filtered in SQL by `pixelfind_shard_of` (migration 0006, the same
 * function as `shardOf`): each of N shards reads its 1/N of the table, not all of it.
 * `$1` and `$2` of the caller's statement are the partition count and index.
 */
const OWNED = 'pixelfind_shard_of(image_id, $1::integer) = $2::integer';

/**
 * The partition the SQL filter selects: the shard's own by id, or, when vectors are placed by value
 * (`partition.placement`, cluster partitioning), every row: SQL cannot tell which shard's
 * centroids a vector is nearest to, so the shard reads the whole table and keeps its own.
 */
const sqlPartition = (partition: Partition): Partition =>
  partition.placement === undefined ? partition : { index: 0, count: 1 };

/** The `embeddings` table as a shard's source of record (see migrations 0001, 0003 and 0006). */
export class PostgresVectorSource implements VectorSource {
  private readonly page: number;

  /** `pageRows`: rows a shard reads per statement (default 5,000; small in tests to cross pages). */
  constructor(
    private readonly db: SqlClient,
    options: { pageRows?: number } = {},
  ) {
    this.page = options.pageRows ?? PAGE;
  }

  async snapshot(modelVersion: string, shardPartition: Partition): Promise<VectorSourceSnapshot> {
    const partition = sqlPartition(shardPartition);
    const { rows } = await this.db.query<{ w: string | null }>(
      'SELECT max(seq)::text AS w FROM embeddings WHERE model_version = $1',
      [modelVersion],
    );
    const watermark = BigInt(rows[0]?.w ?? '0');
    const db = this.db;
    const pageRows = this.page;
    async function* records(): AsyncIterable<VectorRecord> {
      // Pages by id window: the window's end comes from the live-row index alone (an index-only
      // scan that stops at the limit), then the window's owned rows are read. One statement with
      // the shard filter and a LIMIT lets the planner, which cannot estimate the filter, pick a
      // bitmap scan of every row left and a sort per page: quadratic in the table's size.
      const window = pageRows * partition.count;
      let after = -1n;
      for (;;) {
        const end = await db.query<{ upto: string | null }>(
          `SELECT max(image_id)::text AS upto FROM (
             SELECT image_id FROM embeddings
             WHERE model_version = $1 AND deleted_at IS NULL AND image_id > $2
             ORDER BY image_id LIMIT ${window}) w`,
          [modelVersion, after.toString()],
        );
        const upto = end.rows[0]?.upto;
        if (upto === null || upto === undefined) return;
        const page = await db.query<{ id: string; vector: Uint8Array }>(
          `SELECT image_id::text AS id, vector FROM embeddings
           WHERE model_version = $3 AND deleted_at IS NULL AND seq <= $4 AND image_id > $5 AND image_id <= $6
             AND ${OWNED}
           ORDER BY image_id`,
          [partition.count, partition.index, modelVersion, watermark.toString(), after.toString(), upto],
        );
        for (const row of page.rows) yield { id: BigInt(row.id), vector: toVector(row.vector) };
        after = BigInt(upto);
      }
    }
    return { watermark, records: records() };
  }

  /** The newest change number of a model version (the catch-up's cheap probe). */
  async latestWatermark(modelVersion: string): Promise<bigint> {
    const { rows } = await this.db.query<{ w: string | null }>(
      'SELECT max(seq)::text AS w FROM embeddings WHERE model_version = $1',
      [modelVersion],
    );
    return BigInt(rows[0]?.w ?? '0');
  }

  async *since(
    modelVersion: string,
    watermark: bigint,
    shardPartition: Partition,
  ): AsyncIterable<VectorChange> {
    const partition = sqlPartition(shardPartition);
    let after = watermark > COMMIT_ORDER_SLACK ? watermark - COMMIT_ORDER_SLACK : 0n;
    for (;;) {
      const page = await this.db.query<{ id: string; vector: Uint8Array; deleted: boolean; seq: string }>(
        `SELECT image_id::text AS id, vector, deleted_at IS NOT NULL AS deleted, seq::text AS seq FROM embeddings
         WHERE model_version = $3 AND seq > $4 AND ${OWNED} ORDER BY seq LIMIT ${this.page}`,
        [partition.count, partition.index, modelVersion, after.toString()],
      );
      for (const row of page.rows) {
        yield {
          id: BigInt(row.id),
          vector: row.deleted ? null : toVector(row.vector),
          watermark: BigInt(row.seq),
        };
      }
      if (page.rows.length < this.page) return;
      after = BigInt(page.rows[page.rows.length - 1]!.seq);
    }
  }
}
