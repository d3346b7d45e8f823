import type { Queryable } from '../db/database.ts';
import type { KeyRole } from './roles.ts';

export interface ApiKeyRow {
  id: string;
  role: KeyRole;
  owner_id: string;
}

/** A key's metadata as stored (never the key: only its hash is kept). */
export interface ApiKeyRecord {
  id: string;
  prefix: string;
  role: KeyRole;
  owner_id: string;
  label: string | null;
  created_at: Date;
  revoked_at: Date | null;
}

const RECORD_COLUMNS = 'id::text AS id, prefix, role, owner_id, label, created_at, revoked_at';
// PGlite and pg both return timestamptz as Date
const toRecord = (row: ApiKeyRecord): ApiKeyRecord => ({
  ...row,
  created_at: new Date(row.created_at),
  revoked_at: row.revoked_at === null ? null : new Date(row.revoked_at),
});

export function createApiKeysRepository(db: Queryable) {
  return {
    async insert(keyHash: string, prefix: string, role: KeyRole, ownerId: string, label: string | null) {
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO api_keys (key_hash, prefix, role, owner_id, label) VALUES ($1, $2, $3, $4, $5)
         RETURNING id::text AS id`,
        [keyHash, prefix, role, ownerId, label],
      );
      return rows[0]!.id;
    },
    async findActiveByHash(keyHash: string): Promise<ApiKeyRow | null> {
      const { rows } = await db.query<ApiKeyRow>(
        `SELECT id::text AS id, role, owner_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
        [keyHash],
      );
      return rows[0] ?? null;
    },
    async countActiveAdmins(): Promise<number> {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL`,
      );
      return rows[0]!.n;
    },
    async findById(id: string): Promise<ApiKeyRecord | null> {
      const { rows } = await db.query<ApiKeyRecord>(`SELECT ${RECORD_COLUMNS} FROM api_keys WHERE id = $1`, [
        id,
      ]);
      return rows[0] ? toRecord(rows[0]) : null;
    },
    /** Newest first; revoked keys only when asked. */
    async list(options: { includeRevoked: boolean }): Promise<ApiKeyRecord[]> {
      const { rows } = await db.query<ApiKeyRecord>(
        `SELECT ${RECORD_COLUMNS} FROM api_keys WHERE $1 OR revoked_at IS NULL ORDER BY id DESC`,
        [options.includeRevoked],
      );
      return rows.map(toRecord);
    },
    /** The revoked key's hash (so that caches can drop it), or null when no active key has this id. */
    async revoke(id: string): Promise<string | null> {
      const { rows } = await db.query<{ key_hash: string }>(
        'UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING key_hash',
        [id],
      );
      return rows[0]?.key_hash ?? null;
    },
  };
}
export type ApiKeysRepository = ReturnType<typeof createApiKeysRepository>;
