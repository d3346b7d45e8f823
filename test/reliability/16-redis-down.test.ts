import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisCache } from '../../api/src/cache/redis-cache.ts';
import { ensureTinyClip } from '../fixtures/tiny-clip/generate.ts';
import { type Backend, backendOf, createTestDatabase, postgresAvailable } from '../support/backends.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';
import { privateRedis, seedColours } from './support.ts';

const SEARCH = 'query($input: SearchInput!) { search(input: $input) { partial hits { image { id } } } }';
const FLAG = 'mutation($id: ID!) { flagImage(input: { imageId: $id, reason: "unsafe" }) { imageId } }';

describe.runIf(postgresAvailable)('item 16: Redis down (a private redis-server, stopped and started)', () => {
  let redis: Awaited<ReturnType<typeof privateRedis>>;
  let backend: Backend;
  let t: TestApp;
  let ids: Map<string, string>;
  let userKey = '';
  let moderatorKey = '';

  beforeAll(async () => {
    await ensureTinyClip();
    redis = await privateRedis();
    const { db, drop } = await createTestDatabase({ prefix: 'pf_test_redis_down' });
    backend = await backendOf(
      'postgres+private-redis',
      db,
      createRedisCache(redis.url, { prefix: 'pf:' }),
      drop,
    );
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

  // the safety gate reads the blocklist from Postgres in each search's page statement
  // (search.repository.ts#pageOf), so the flags below hold whatever Redis holds
  it('answers with Redis up, and the key lookups live in Redis', async () => {
    expect(await hitsFor('red', { authorization: `Bearer ${userKey}` })).toContain(ids.get('red'));
    const probe = new Redis(redis.url);
    expect((await probe.keys('pf:apikey:*')).length).toBeGreaterThan(0);
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

  it('uses Redis again when it returns, without un-blocking what was flagged meanwhile', async () => {
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
    await probe.flushdb(); // the key lookup must be made again, in the Redis that came back
    expect(await hitsFor('red', { authorization: `Bearer ${userKey}` })).not.toContain(ids.get('red'));
    expect((await probe.keys('pf:apikey:*')).length).toBeGreaterThan(0);
    expect(await hitsFor('blue')).toContain(ids.get('blue'));
    await probe.quit();
  }, 60_000);
});
