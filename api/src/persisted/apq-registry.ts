import type { Cache } from '../cache/cache.ts';

/**
 * Automatic Persisted Queries: documents registered by callers allowed to send documents, so
 * their next request can send the hash alone. Never an allow-list: a partner key cannot run a
 * registered document (use-persisted-operations.ts checks the role before looking here).
 */
export interface ApqRegistry {
  get(hash: string): Promise<string | null>;
  register(hash: string, document: string): Promise<void>;
}

export interface ApqRegistryOptions {
  /** How long a registration lasts. Default one day. */
  ttlSeconds?: number;
  /** Longer documents run but are not registered. Default 16 KiB. */
  maxDocumentBytes?: number;
}

/** The registry in the shared cache (Redis in cluster mode, so every API process sees it). */
export function createApqRegistry(
  cache: Cache,
  { ttlSeconds = 86_400, maxDocumentBytes = 16 * 1024 }: ApqRegistryOptions = {},
): ApqRegistry {
  const key = (hash: string) => `apq:v1:${hash}`;
  return {
    async get(hash) {
      const value = await cache.getBuffer(key(hash)).catch(() => null);
      return value ? value.toString('utf8') : null;
    },
    async register(hash, document) {
      const bytes = Buffer.from(document, 'utf8');
      if (bytes.byteLength > maxDocumentBytes) return;
      // a cache that is down costs the client one more round trip, not the answer
      await cache.setBuffer(key(hash), bytes, ttlSeconds).catch(() => {});
    },
  };
}
