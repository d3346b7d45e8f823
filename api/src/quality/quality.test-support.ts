import { randomBytes } from 'node:crypto';
import type { Database } from '../db/database.ts';

/** An INDEXED image row with its embedding under `modelVersion`; returns the image id. */
export async function insertEmbedded(
  db: Database,
  modelVersion: string,
  vector: Float32Array,
  { hoursAgo = 0 }: { hoursAgo?: number } = {},
): Promise<bigint> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO images (storage_url, mime_type, byte_size, width, height, uploader_id, sha256, status)
     VALUES ('blob://seed/x.jpg', 'image/jpeg', 10, 8, 8, 'seed', $1, 'INDEXED') RETURNING id::text AS id`,
    [randomBytes(32).toString('hex')],
  );
  const id = rows[0]!.id;
  await db.query(
    `INSERT INTO embeddings (image_id, model_version, dim, vector, created_at)
     VALUES ($1, $2, $3, $4, now() - make_interval(hours => $5))`,
    [
      id,
      modelVersion,
      vector.length,
      Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength),
      hoursAgo,
    ],
  );
  return BigInt(id);
}
