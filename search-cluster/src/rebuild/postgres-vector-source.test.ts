import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, backends } from '../../../test/support/backends.ts';
import { shardOf } from '../shard/partition.ts';
import { PostgresVectorSource } from './postgres-vector-source.ts';
import type { VectorChange, VectorRecord } from './vector-source.ts';

const MV = 'clip-test@1';
const SHARD_COUNTS = [1, 2, 3, 4, 7, 16, 61, 256];

/** A deterministic spread of int64 ids: sequential, random 63-bit, and the bit-pattern edges. */
function manyIds(): bigint[] {
  const ids: bigint[] = [];
  for (let i = 1n; i <= 1500n; i++) ids.push(i);
  let x = 0x243f6a8885a308d3n;
  for (let i = 0; i < 1500; i++) {
    // xorshift64: ids of every size up to 2^63 - 1
    x ^= (x << 13n) & 0xffffffffffffffffn;
    x ^= x >> 7n;
    x ^= (x << 17n) & 0xffffffffffffffffn;
    ids.push(x & 0x7fffffffffffffffn);
  }
  for (const p of [31n, 32n, 33n, 52n, 53n, 62n]) ids.push((1n << p) - 1n, 1n << p, (1n << p) + 1n);
  ids.push(0n, 0x7fffffffffffffffn, -1n, -(1n << 63n), 0x9e3779b9n, BigInt.asIntN(64, 0x9e3779b9n << 32n));
  return ids;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe.each(backends)('PostgresVectorSource partitions on $name', ({ create }) => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await create();
  });
  afterAll(async () => {
    await backend?.dispose();
  });

  it('puts every id in the same shard as shardOf, for large and negative ids too', async () => {
    const ids = manyIds();
    for (const count of SHARD_COUNTS) {
      const { rows } = await backend.db.query<{ id: string; shard: number }>(
        'SELECT id::text AS id, pixelfind_shard_of(id, $2) AS shard FROM unnest($1::bigint[]) AS id',
        [ids.map(String), count],
      );
      const sql = new Map(rows.map((r) => [r.id, r.shard]));
      const disagree = ids.filter((id) => sql.get(String(id)) !== shardOf(id, count));
      expect({ count, disagree: disagree.map(String) }).toEqual({ count, disagree: [] });
    }
  });

  it('gives each shard exactly its own rows in snapshot and since, deletions included', async () => {
    const ids = [
      ...manyIds()
        .filter((id) => id > 0n)
        .slice(0, 400),
      0x7fffffffffffffffn,
      1n << 53n,
    ];
    const vector = (id: bigint) => new Float32Array([Number(id % 1000n), 1, 2, 3]);
    await backend.db.query(
      `INSERT INTO images (id, storage_url, mime_type, byte_size, width, height, uploader_id, sha256)
       OVERRIDING SYSTEM VALUE
       SELECT id, 'k', 'image/png', 1, 1, 1, 'u', lpad(to_hex(id), 64, '0') FROM unnest($1::bigint[]) AS id`,
      [ids.map(String)],
    );
    for (const id of ids) {
      await backend.db.query(
        'INSERT INTO embeddings (image_id, model_version, dim, vector) VALUES ($1, $2, 4, $3)',
        [String(id), MV, Buffer.from(vector(id).buffer)],
      );
    }
    const source = new PostgresVectorSource(backend.db);
    const before = await source.snapshot(MV, { index: 0, count: 1 });
    const whole: VectorRecord[] = await collect(before.records);
    expect(whole).toHaveLength(ids.length);
    const deleted = ids.filter((_, i) => i % 10 === 0);
    await backend.db.query(
      'UPDATE embeddings SET deleted_at = now(), seq = DEFAULT WHERE image_id = ANY($1::bigint[])',
      [deleted.map(String)],
    );

    const count = 5;
    const seen = new Set<bigint>();
    // pages of 7 rows: every partition's snapshot and since cross many statements
    const paged = new PostgresVectorSource(backend.db, { pageRows: 7 });
    for (let index = 0; index < count; index++) {
      const partition = { index, count };
      const owned = ids.filter((id) => shardOf(id, count) === index);
      const snapshot = await (index % 2 === 0 ? source : paged).snapshot(MV, partition);
      const records = await collect(snapshot.records);
      expect(records.map((r) => r.id).sort()).toEqual(owned.filter((id) => !deleted.includes(id)).sort());
      for (const r of records) expect([...r.vector]).toEqual([...vector(r.id)]);
      for (const r of records) seen.add(r.id);

      const changes: VectorChange[] = await collect(
        (index % 2 === 0 ? paged : source).since(MV, before.watermark, partition),
      );
      // since() replays some changes below the watermark (commit-order slack): only owned ones
      expect(changes.filter((c) => shardOf(c.id, count) !== index)).toEqual([]);
      expect(
        changes
          .filter((c) => c.vector === null)
          .map((c) => c.id)
          .sort(),
      ).toEqual(owned.filter((id) => deleted.includes(id)).sort());
    }
    expect(seen.size).toBe(ids.length - deleted.length);
  });
});
