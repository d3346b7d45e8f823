import type { Cache } from '../cache/cache.ts';
import type { SearchRepository } from './search.repository.ts';

const SET = 'safety:blocklist';
const SYNCED = 'safety:blocklist:synced';

/**
 * The safety blocklist: Postgres holds the record, the cache a set that every query checks
 * in one round trip. A sentinel says the set is complete; when it is missing (a Redis that
 * restarted empty) the set is rebuilt from Postgres before it is trusted.
 */
export function createBlocklist(cache: Cache, repo: SearchRepository) {
  let syncing: Promise<void> | null = null;

  async function ensureSynced() {
    if (await cache.getBuffer(SYNCED)) return;
    syncing ??= (async () => {
      const ids = await repo.allBlocked();
      for (let i = 0; i < ids.length; i += 1000) await cache.setAdd(SET, ids.slice(i, i + 1000));
      await cache.setBuffer(SYNCED, Buffer.from('1'), 0);
    })().finally(() => {
      syncing = null;
    });
    await syncing;
  }

  return {
    /** Which of `ids` are blocked, in order. */
    async check(ids: string[]): Promise<boolean[]> {
      await ensureSynced();
      return cache.setHasMany(SET, ids);
    },
    /** Call after the Postgres row is written. */
    async add(id: string) {
      await cache.setAdd(SET, [id]);
    },
    async remove(id: string) {
      await cache.setRemove(SET, [id]);
    },
  };
}
export type Blocklist = ReturnType<typeof createBlocklist>;
