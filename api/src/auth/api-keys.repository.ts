import type { Queryable } from '../db/database.ts';
import type { KeyRole } from './roles.ts';

export interface ApiKeyRow {
  id: string;
  role: KeyRole;
  owner_id: string;
}

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
    async revoke(id: string): Promise<boolean> {
      const { rowCount } = await db.query(
        'UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL',
        [id],
      );
      return rowCount > 0;
    },
  };
}
export type ApiKeysRepository = ReturnType<typeof createApiKeysRepository>;
