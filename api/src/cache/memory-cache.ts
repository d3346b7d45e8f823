import type { Cache } from './cache.ts';

/** Bounded in-process cache: oldest entries go first once maxEntries is reached. */
export function createMemoryCache(options: { maxEntries?: number } = {}): Cache {
  const maxEntries = options.maxEntries ?? 100_000;
  const values = new Map<string, { value: Buffer; expiresAt: number }>();
  const sets = new Map<string, Set<string>>();

  const live = (key: string) => {
    const entry = values.get(key);
    if (!entry) return null;
    if (entry.expiresAt !== 0 && entry.expiresAt <= Date.now()) {
      values.delete(key);
      return null;
    }
    return entry.value;
  };

  return {
    kind: 'memory',
    async getBuffer(key) {
      return live(key);
    },
    async setBuffer(key, value, ttlSeconds) {
      values.delete(key);
      if (values.size >= maxEntries) {
        const oldest = values.keys().next().value;
        if (oldest !== undefined) values.delete(oldest);
      }
      values.set(key, {
        value: Buffer.from(value),
        expiresAt: ttlSeconds > 0 ? Date.now() + ttlSeconds * 1000 : 0,
      });
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
      values.clear();
      sets.clear();
    },
  };
}
