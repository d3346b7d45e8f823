import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { IndexingWorker } from '../../api/src/indexing/indexing.worker.ts';
import { makePatternImage } from '../fixtures/images/make-patterns.ts';
import {
  createPostgresBackend,
  postgresAvailable,
  redisAvailable,
  TEST_REDIS_URL,
} from '../support/backends.ts';
import type { TestApp } from '../support/test-app.ts';
import { useTestApps } from '../support/use-test-apps.ts';
import { drain, FLAG, gqlOk, keyFor, searchIds, uploadAs } from './helpers.ts';

/**
 * Issue 10 item 2: Redis restored from a snapshot taken before a flag (or an AOF loss, or a
 * failover to a lagging replica) must not bring the flagged image back. Only the Redis backend
 * has a cache that can be rolled back; the memory cache dies with the process.
 */
describe.runIf(postgresAvailable && redisAvailable)(
  'a stale cache can never un-block (postgres+redis)',
  () => {
    let t: TestApp;
    let worker: IndexingWorker;
    let redis: Redis;
    let prefix = '';

    /** Every key of this test's namespace with its DUMP, as a snapshot would hold them. */
    const snapshot = async () => {
      const keys = await redis.keys(`${prefix}*`);
      return Promise.all(keys.map(async (key) => ({ key, dump: await redis.dumpBuffer(key) })));
    };
    /** The namespace as it was at the snapshot: newer keys gone, older values back. */
    const restore = async (saved: { key: string; dump: Buffer | null }[]) => {
      const now = await redis.keys(`${prefix}*`);
      if (now.length > 0) await redis.del(...now);
      for (const { key, dump } of saved) if (dump) await redis.restore(key, 0, dump, 'REPLACE');
    };

    // registered first, so it runs after the app closed (after-hooks run last-registered first)
    afterAll(async () => {
      if (!redis) return;
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    });

    useTestApps(
      createPostgresBackend,
      async (open) => {
        t = await open({}, { nsfw: false });
        const db = (await t.services.db.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d;
        prefix = `${db}:`;
        redis = new Redis(TEST_REDIS_URL);
        worker = await t.services.createWorker();
      },
      120_000,
    );

    it('flag, roll Redis back to a snapshot from before the flag: search still hides the image', async () => {
      const mod = await keyFor(t, 'moderator', 'mo');
      const ann = await keyFor(t, 'user', 'ann');
      const victim = await uploadAs(t, ann, 'ann', await makePatternImage(201));
      const other = await uploadAs(t, ann, 'ann', await makePatternImage(202));
      await drain(worker);
      // a first search fills the cache (the query's embedding, the caller's key) before the flag
      expect(await searchIds(t, { text: 'red' })).toEqual(expect.arrayContaining([victim.id, other.id]));
      const beforeFlag = await snapshot();
      expect(beforeFlag.length).toBeGreaterThan(0);

      await gqlOk(t, FLAG, { id: victim.id }, mod);
      expect(await searchIds(t, { text: 'red' })).not.toContain(victim.id);

      await restore(beforeFlag);
      const after = await searchIds(t, { text: 'red' });
      expect(after).toContain(other.id);
      expect(after).not.toContain(victim.id);
      // the gate reads the blocklist and the rows from Postgres in the page statement, so no
      // cache state can un-block: a second rollback after more searches changes nothing either
      await restore(beforeFlag);
      const again = await searchIds(t, { text: 'red' });
      expect(again).toContain(other.id);
      expect(again).not.toContain(victim.id);
      expect(t.services.safetyEpoch.latest()).toBeGreaterThan(0n);
    }, 60_000);
  },
);
