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
 * once a minute. Sets (the safety blocklist) are never evicted: losing a member would let
 * blocked content through.
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
  const sets = new Map<string, Set<string>>();
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
      sets.delete(key);
    },
    async setAdd(key, members) {
      let set = sets.get(key);
      if (!set) {
        set = new Set();
        sets.set(key, set);
      }
      for (const m of members) set.add(m);
    },
    async setRemove(key, members) {
      const set = sets.get(key);
      for (const m of members) set?.delete(m);
    },
    async setHasMany(key, members) {
      const set = sets.get(key);
      return members.map((m) => set?.has(m) ?? false);
    },
    async ping() {},
    async close() {
      clearInterval(purge);
      values.clear();
      sets.clear();
    },
  };
}
