import { Redis } from 'ioredis';
import type { Cache } from './cache.ts';

/** ioredis-backed cache. `prefix` isolates tenants and tests sharing one Redis. */
export function createRedisCache(url: string, options: { prefix?: string } = {}): Cache {
  const redis = new Redis(url, {
    keyPrefix: options.prefix ?? 'pf:',
    // while Redis is down a command fails within about a second and callers fall back to
    // Postgres; reconnect attempts stay frequent so the cache is used again soon after it returns
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(times * 50, 500),
    enableOfflineQueue: true,
    lazyConnect: false,
  });
  // connection errors surface on commands; the emitter must not crash the process
  redis.on('error', () => {});
  return {
    kind: 'redis',
    getBuffer: (key) => redis.getBuffer(key),
    async setBuffer(key, value, ttlSeconds) {
      if (ttlSeconds > 0) await redis.set(key, value, 'EX', ttlSeconds);
      else await redis.set(key, value);
    },
    async delete(key) {
      await redis.del(key);
    },
    async ping() {
      await redis.ping();
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
