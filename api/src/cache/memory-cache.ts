import { LRUCache } from 'lru-cache';
import type { Cache } from './cache.ts';

export interface MemoryCacheOptions {
  /** Most values kept; the least recently used goes first. Default 100 000. */
  maxEntries?: number;
  /** Most bytes of values (plus keys) kept. Default 256 MiB. */
  maxBytes?: number;
  /** Milliseconds clock for TTLs; tests pass their own. Default `performance`. */
  clock?: { now(): number };
}

/**
 * Bounded in-process cache (single-node mode): least recently used values go first once
 * maxEntries or maxBytes is reached, and expired values are never returned and are purged
 * once a minute.
 */
export function createMemoryCache(options: MemoryCacheOptions = {}): Cache {
  const values = new LRUCache<string, Buffer>({
    max: options.maxEntries ?? 100_000,
    maxSize: options.maxBytes ?? 256 * 1024 * 1024,
    sizeCalculation: (value, key) => value.byteLength + key.length,
    perf: options.clock,
    // an injected clock is read on every check (the default caches now() for 1 ms)
    ...(options.clock ? { ttlResolution: 0 } : {}),
  });
  // expired values would otherwise sit in memory until evicted or read
  const purge = setInterval(() => values.purgeStale(), 60_000);
  purge.unref();

  return {
    kind: 'memory',
    async getBuffer(key) {
      return values.get(key) ?? null;
    },
    async setBuffer(key, value, ttlSeconds) {
      // ttl 0 keeps the value until deleted or evicted
      values.set(key, Buffer.from(value), { ttl: ttlSeconds > 0 ? ttlSeconds * 1000 : 0 });
    },
    async delete(key) {
      values.delete(key);
    },
    async ping() {},
    async close() {
      clearInterval(purge);
      values.clear();
    },
  };
}
