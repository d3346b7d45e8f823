import type { Cache } from './cache.ts';
import { createMemoryCache } from './memory-cache.ts';
import { createRedisCache } from './redis-cache.ts';

export function createCache(options: { redisUrl: string | null; prefix?: string }): Cache {
  return options.redisUrl
    ? createRedisCache(options.redisUrl, { prefix: options.prefix })
    : createMemoryCache();
}
