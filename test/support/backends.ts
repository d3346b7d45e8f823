import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Cache } from '../../api/src/cache/cache.ts';
import { createMemoryCache } from '../../api/src/cache/memory-cache.ts';
import { createRedisCache } from '../../api/src/cache/redis-cache.ts';
import type { Database } from '../../api/src/db/database.ts';
import { migrate } from '../../api/src/db/migrate.ts';
import { createPgDatabase } from '../../api/src/db/pg-database.ts';
import { createPgliteDatabase } from '../../api/src/db/pglite-database.ts';

/**
 * The adapters every integration suite runs against: the embedded defaults always, real
 * Postgres and Redis when reachable. CI sets PIXELFIND_REQUIRE_SERVICES=1 so that a missing
 * service fails the run instead of quietly skipping half of it.
 */
const requireServices = process.env.PIXELFIND_REQUIRE_SERVICES === '1';
/**
 * Where the test databases are created. Unset: the local superuser over TCP without a password
 * (CI's trust auth), else the role `infra/scripts/test-services.sh` creates on a stock Debian
 * Postgres, whose TCP connections need a password.
 */
const DATABASE_CANDIDATES = process.env.TEST_DATABASE_URL
  ? [process.env.TEST_DATABASE_URL]
  : [
      'postgres://postgres@127.0.0.1:5432/postgres',
      'postgres://pixelfind_test:pixelfind_test@127.0.0.1:5432/postgres',
    ];
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function reachable(probe: () => Promise<void>, what: string): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (error) {
    if (requireServices)
      throw new Error(`${what} is required (PIXELFIND_REQUIRE_SERVICES=1) but unreachable: ${error}`);
    console.warn(`[tests] ${what} unreachable, its variant of the suite is skipped: ${error}`);
    return false;
  }
}

async function firstReachableDatabase(): Promise<string> {
  let lastError: unknown = null;
  for (const url of DATABASE_CANDIDATES) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.end();
      return url;
    } catch (error) {
      lastError = error;
      await client.end().catch(() => {});
    }
  }
  throw lastError;
}

let databaseUrl = DATABASE_CANDIDATES[0]!;
export const postgresAvailable = await reachable(
  async () => {
    databaseUrl = await firstReachableDatabase();
  },
  `Postgres at ${DATABASE_CANDIDATES.join(' or ')}`,
);
export const TEST_DATABASE_URL = databaseUrl;

export const redisAvailable = await reachable(async () => {
  const cache = createRedisCache(TEST_REDIS_URL, { prefix: 'pf-probe:' });
  try {
    await Promise.race([
      cache.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 2 s')), 2000)),
    ]);
  } finally {
    await cache.close();
  }
}, `Redis at ${TEST_REDIS_URL}`);

export interface Backend {
  name: string;
  db: Database;
  cache: Cache;
  dispose(): Promise<void>;
}

/**
 * An empty (unmigrated) database of its own on the shared test Postgres; `drop` closes its pool
 * and removes it.
 */
export async function createTestDatabase(
  options: { prefix?: string; max?: number } = {},
): Promise<{ name: string; db: Database; drop(): Promise<void> }> {
  const name = `${options.prefix ?? 'pf_test'}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  const db = createPgDatabase(url.toString(), { max: options.max ?? 5 });
  return {
    name,
    db,
    async drop() {
      await db.close();
      const dropper = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}

/**
 * A backend over a database and cache that `migrate` brings up to date; dispose closes the cache,
 * then `closeDb` (by default the database's own close).
 */
export async function backendOf(
  name: string,
  db: Database,
  cache: Cache,
  closeDb: () => Promise<void> = () => db.close(),
): Promise<Backend> {
  await migrate(db);
  return {
    name,
    db,
    cache,
    async dispose() {
      await cache.close();
      await closeDb();
    },
  };
}

/** A fresh, migrated database of its own (one per test file or test) and a cache namespace. */
export async function createPostgresBackend(): Promise<Backend> {
  const { name, db, drop } = await createTestDatabase();
  return backendOf('postgres+redis', db, createRedisCache(TEST_REDIS_URL, { prefix: `${name}:` }), drop);
}

export async function createEmbeddedBackend(): Promise<Backend> {
  return backendOf('pglite+memory', await createPgliteDatabase(null), createMemoryCache());
}

/** For `describe.each`: the embedded defaults, plus real services when they answer. */
export const backends: { name: string; create: () => Promise<Backend> }[] = [
  { name: 'pglite+memory', create: createEmbeddedBackend },
  ...(postgresAvailable && redisAvailable ? [{ name: 'postgres+redis', create: createPostgresBackend }] : []),
];
