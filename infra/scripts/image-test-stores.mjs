// image-test.sh's stores: creates the test's own Postgres database, and drops it with the Redis
// keys the run left (its rate-limit prefix and the cache's `pf:` keys in its logical database).
//   node image-test-stores.mjs create ADMIN_URL DB
//   node image-test-stores.mjs drop ADMIN_URL DB REDIS_URL RUN_ID
import { Redis } from 'ioredis';
import pg from 'pg';

const [what, adminUrl, db, redisUrl, runId] = process.argv.slice(2);
if (!/^[a-z0-9_]+$/.test(db ?? '')) throw new Error(`bad database name ${db}`);
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
try {
  if (what === 'create') {
    await admin.query(`CREATE DATABASE ${db}`);
  } else if (what === 'drop') {
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    let removed = 0;
    for (const pattern of [`${runId}:*`, 'pf:*']) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) removed += await redis.del(...keys);
      } while (cursor !== '0');
    }
    await redis.quit();
    console.log(`image:test: dropped database ${db}, removed ${removed} Redis keys`);
  } else {
    throw new Error(`unknown command ${what}`);
  }
} finally {
  await admin.end();
}
