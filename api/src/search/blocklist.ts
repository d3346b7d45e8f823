import type { Cache } from '../cache/cache.ts';
import type { SearchRepository } from './search.repository.ts';

const PREFIX = 'safety:blocklist:e';
const CURRENT = 'safety:blocklist:current';
/** Added last when a set is built: a set without it is incomplete and never trusted. */
const COMPLETE = '#complete';

/**
 * The safety blocklist: Postgres holds the record and a safety epoch that every flag, unflag,
 * rejection and deletion bumps in its own transaction (triggers, migration 0005). The cache
 * holds one set per epoch, built from a single-statement snapshot of (epoch, ids), and closed
 * by a `#complete` member. Every check reads the epoch from Postgres (one indexed row) and asks
 * the set of exactly that epoch, completion member included, in one SMISMEMBER: a Redis restored
 * from an old snapshot, an AOF loss or a lagging replica either has that epoch's complete set or
 * has no trusted set at all, and then it is rebuilt from Postgres before it answers.
 */
export function createBlocklist(cache: Cache, repo: SearchRepository) {
  const building = new Map<string, Promise<void>>();
  // the newest epoch this process has read from Postgres: the API tells the edge (x-pixelfind-safety-epoch)
  let latest: bigint | null = null;
  const observeEpoch = (epoch: string): void => {
    const value = BigInt(epoch);
    if (latest === null || value > latest) latest = value;
  };
  const readEpoch = async (): Promise<string> => {
    const epoch = await repo.safetyEpoch();
    observeEpoch(epoch);
    return epoch;
  };

  async function build(epoch: string): Promise<void> {
    let pending = building.get(epoch);
    if (!pending) {
      pending = (async () => {
        const snapshot = await repo.blocklistSnapshot();
        // no delete first: every snapshot of one epoch holds the same ids, so builders racing
        // (or one that died half-way) only ever add the right members
        const key = PREFIX + snapshot.epoch;
        for (let i = 0; i < snapshot.ids.length; i += 1000)
          await cache.setAdd(key, snapshot.ids.slice(i, i + 1000));
        await cache.setAdd(key, [COMPLETE]);
        const previous = (await cache.getBuffer(CURRENT))?.toString();
        await cache.setBuffer(CURRENT, Buffer.from(snapshot.epoch), 0);
        if (previous && previous !== snapshot.epoch && BigInt(previous) < BigInt(snapshot.epoch))
          await cache.delete(PREFIX + previous);
      })().finally(() => building.delete(epoch));
      building.set(epoch, pending);
    }
    await pending;
  }

  async function check(ids: string[]): Promise<boolean[]> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const epoch = await readEpoch();
      let answer: boolean[];
      try {
        answer = await cache.setHasMany(PREFIX + epoch, [...ids, COMPLETE]);
        if (answer[ids.length]) return answer.slice(0, ids.length);
        await build(epoch);
      } catch {
        // the cache is down (issue 10 item 16): the record answers, exactly
        break;
      }
    }
    // the epoch moves faster than a set can be built: ask the record itself
    const blocked = await repo.blocked(ids);
    return ids.map((id) => blocked.has(id));
  }

  return {
    /** Which of `ids` are blocked, in order; never from a set older than Postgres' epoch. */
    check,
    /** The newest safety epoch read from Postgres by this process (null before the first read). */
    latestEpoch: (): bigint | null => latest,
    /**
     * An epoch read from Postgres elsewhere: the search's page statement reads it in the same
     * snapshot as the rows it gates (search.repository.ts#pageOf), so the answer reports it.
     */
    observeEpoch,
    /** Call after the Postgres row is written: warms the set for the new epoch. */
    async add(_id: string) {
      // a cache that does not answer is rebuilt for the epoch when it returns
      const epoch = await readEpoch();
      await build(epoch).catch(() => {});
    },
    async remove(_id: string) {
      const epoch = await readEpoch();
      await build(epoch).catch(() => {});
    },
  };
}
export type Blocklist = ReturnType<typeof createBlocklist>;
