import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisCache } from '../../api/src/cache/redis-cache.ts';
import { migrate } from '../../api/src/db/migrate.ts';
import { createPgDatabase } from '../../api/src/db/pg-database.ts';
import { ensureTinyClip } from '../fixtures/tiny-clip/generate.ts';
import { type Backend, postgresAvailable, TEST_DATABASE_URL } from '../support/backends.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';
import { privateRedis, seedColours } from './support.ts';

const SEARCH = 'query($input: SearchInput!) { search(input: $input) { partial hits { image { id } } } }';
const FLAG = 'mutation($id: ID!) { flagImage(id: $id, reason: "unsafe") { imageId } }';

describe.runIf(postgresAvailable)('item 16: Redis down (a private redis-server, stopped and started)', () => {
  let redis: Awaited<ReturnType<typeof privateRedis>>;
  let backend: Backend;
  let t: TestApp;
  let ids: Map<string, string>;
  let userKey = '';
  let moderatorKey = '';
  const dbName = `pf_test_redis_down_${process.pid}`;

  beforeAll(async () => {
    await ensureTinyClip();
    redis = await privateRedis();
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = `/${dbName}`;
    const db = createPgDatabase(url.toString(), { max: 5 });
    await migrate(db);
    const cache = createRedisCache(redis.url, { prefix: 'pf:' });
    backend = {
      name: 'postgres+private-redis',
      db,
      cache,
      async dispose() {
        await cache.close();
        await db.close();
        const dropper = new pg.Client({ connectionString: TEST_DATABASE_URL });
        await dropper.connect();
        await dropper.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
        await dropper.end();
      },
    };
    t = await createTestApp(backend, { REDIS_URL: redis.url }, { nsfw: false });
    ({ ids } = await seedColours(t, ['red', 'green', 'blue', 'yellow']));
    userKey = (await t.services.apiKeys.create('user', 'u1')).key;
    moderatorKey = (await t.services.apiKeys.create('moderator', 'm1')).key;
  }, 240_000);

  afterAll(async () => {
    await t?.close();
    await backend?.dispose();
    await redis?.dispose();
  });

  const hitsFor = async (text: string, headers: Record<string, string> = {}) => {
    const { status, body } = await t.gql<{ search: { hits: { image: { id: string } }[] } }>(
      SEARCH,
      { input: { text, limit: 50 } },
      headers,
    );
    expect(body.errors).toBeUndefined();
    expect(status).toBe(200);
    return body.data!.search.hits.map((h) => h.image.id);
  };

  it('answers with Redis up, and the blocklist and key lookups live in Redis', async () => {
    expect(await hitsFor('red', { authorization: `Bearer ${userKey}` })).toContain(ids.get('red'));
    const probe = new Redis(redis.url);
    expect((await probe.keys('pf:apikey:*')).length).toBeGreaterThan(0);
    expect(await probe.exists('pf:safety:blocklist:current')).toBe(1);
    // a snapshot now: after the outage Redis comes back with it (the flags below missing)
    await probe.save();
    await probe.quit();
  });

  it('keeps anonymous and keyed search working and lets moderators flag while Redis is down', async () => {
    await redis.stop();
    expect(await hitsFor('red')).toContain(ids.get('red'));
    expect(await hitsFor('green', { authorization: `Bearer ${userKey}` })).toContain(ids.get('green'));
    const flagged = await t.gql(FLAG, { id: ids.get('red') }, { authorization: `Bearer ${moderatorKey}` });
    expect(flagged.body.errors).toBeUndefined();
    // the gate reads the record while the cache is down: exact, at once
    expect(await hitsFor('red')).not.toContain(ids.get('red'));
  }, 60_000);

  it('uses the cache again when Redis returns, without un-blocking what was flagged meanwhile', async () => {
    await redis.start(); // loads the snapshot taken before the flag
    const probe = new Redis(redis.url);
    for (
      let i = 0;
      i < 50 &&
      (await t.services.cache.ping().then(
        () => false,
        () => true,
      ));
      i++
    )
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await hitsFor('red', { authorization: `Bearer ${userKey}` })).not.toContain(ids.get('red'));
    expect(await probe.exists('pf:safety:blocklist:current')).toBe(1);
    expect(await hitsFor('blue')).toContain(ids.get('blue'));
    await probe.quit();
  }, 60_000);
});
