import { createHash, randomBytes } from 'node:crypto';
import type { Cache } from '../cache/cache.ts';
import { AppError, badInput, notFound } from '../errors.ts';
import { isAnonymousUploaderId } from '../upload/anonymous-uploader.ts';
import type { ApiKeyRecord, ApiKeysRepository } from './api-keys.repository.ts';
import { ANONYMOUS, type Caller, KEY_ROLES, type KeyRole } from './roles.ts';

const ID_PATTERN = /^[1-9][0-9]{0,18}$/;
const cacheKeyOf = (keyHash: string) => `apikey:${keyHash}`;

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
    async create(role: KeyRole, rawOwnerId: string, rawLabel: string | null = null) {
      if (!KEY_ROLES.includes(role))
        throw badInput(`Expected role to be one of ${KEY_ROLES.join(', ')} but received ${role}`);
      const ownerId = rawOwnerId.trim();
      if (!ownerId || ownerId.length > 200) throw badInput('Expected an owner id of 1 to 200 characters');
      const label = rawLabel?.trim() || null;
      if (label && label.length > 200) throw badInput('Expected a label of at most 200 characters');
      if (isAnonymousUploaderId(ownerId)) {
        throw badInput('Owner ids "anonymous" and "anonymous:..." belong to anonymous uploads');
      }
      // the role in the key's text lets the edge tell partner keys apart; the API trusts only the stored row
      const key = `pf_${role}_${randomBytes(24).toString('base64url')}`;
      const id = await repo.insert(hashKey(key), key.slice(0, 12), role, ownerId, label);
      const record = await repo.findById(id);
      return { id, key, role, ownerId, record: record! };
    },

    list(options: { includeRevoked?: boolean } = {}): Promise<ApiKeyRecord[]> {
      return repo.list({ includeRevoked: options.includeRevoked ?? false });
    },

    /**
     * Revokes a key; it stops working at once here (and wherever the cache is shared), at the
     * latest after the cache TTL elsewhere. `revoked` is false when it was revoked already.
     */
    async revoke(rawId: string): Promise<{ record: ApiKeyRecord; revoked: boolean }> {
      const id = rawId.trim();
      if (!ID_PATTERN.test(id))
        throw badInput(`Expected a key id (a positive integer) but received ${rawId}`);
      const keyHash = await repo.revoke(id);
      if (keyHash) await cache?.delete(cacheKeyOf(keyHash));
      const record = await repo.findById(id);
      if (!record) throw notFound(`No API key with id ${id}`);
      return { record, revoked: keyHash !== null };
    },

    /** No key: anonymous. A key that is malformed, unknown or revoked: UNAUTHENTICATED. */
    async resolve(key: string | null): Promise<Caller> {
      if (key === null) return ANONYMOUS;
      if (!KEY_PATTERN.test(key)) throw new AppError('UNAUTHENTICATED', 'The API key is malformed');
      const keyHash = hashKey(key);
      const cacheKey = cacheKeyOf(keyHash);
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
