import { createHash, randomBytes } from 'node:crypto';
import type { Cache } from '../cache/cache.ts';
import { AppError } from '../errors.ts';
import type { ApiKeysRepository } from './api-keys.repository.ts';
import { ANONYMOUS, type Caller, KEY_ROLES, type KeyRole } from './roles.ts';

const KEY_PATTERN = /^pf_(user|partner|moderator|admin)_[A-Za-z0-9_-]{32,64}$/;

export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

/** Reads the key from `authorization: Bearer <key>` or `x-api-key`. */
export function keyFromHeaders(headers: Headers): string | null {
  const auth = headers.get('authorization');
  if (auth?.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim() || null;
  return headers.get('x-api-key')?.trim() || null;
}

export function createApiKeysService(repo: ApiKeysRepository, cache: Cache | null = null) {
  return {
    /** Creates a key; the plain key is returned once and only its hash is stored. */
    async create(role: KeyRole, ownerId: string, label: string | null = null) {
      if (!KEY_ROLES.includes(role))
        throw new Error(`Expected role to be one of ${KEY_ROLES.join(', ')} but received ${role}`);
      if (!ownerId.trim()) throw new Error('Expected a non-empty owner id');
      // the role in the key's text lets the edge tell partner keys apart; the API trusts only the stored row
      const key = `pf_${role}_${randomBytes(24).toString('base64url')}`;
      const id = await repo.insert(hashKey(key), key.slice(0, 12), role, ownerId, label);
      return { id, key, role, ownerId };
    },

    /** No key: anonymous. A key that is malformed, unknown or revoked: UNAUTHENTICATED. */
    async resolve(key: string | null): Promise<Caller> {
      if (key === null) return ANONYMOUS;
      if (!KEY_PATTERN.test(key)) throw new AppError('UNAUTHENTICATED', 'The API key is malformed');
      const keyHash = hashKey(key);
      const cacheKey = `apikey:${keyHash}`;
      // the cache is a shortcut: when it does not answer, the record does
      const cached = await cache?.getBuffer(cacheKey).catch(() => null);
      if (cached) return JSON.parse(cached.toString('utf8')) as Caller;
      const row = await repo.findActiveByHash(keyHash);
      if (!row) throw new AppError('UNAUTHENTICATED', 'The API key is unknown or revoked');
      const caller: Caller = { role: row.role, ownerId: row.owner_id, keyId: row.id };
      // short TTL: a revoked key stops working within a minute
      await cache?.setBuffer(cacheKey, Buffer.from(JSON.stringify(caller)), 60).catch(() => {});
      return caller;
    },

    /** At first start in single-node mode: an admin key, printed once. */
    async ensureAdminKey(): Promise<string | null> {
      if ((await repo.countActiveAdmins()) > 0) return null;
      const { key } = await this.create('admin', 'admin', 'created at first start');
      return key;
    },
  };
}
export type ApiKeysService = ReturnType<typeof createApiKeysService>;
