import { mkdir } from 'node:fs/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import S3rver from 's3rver';

// The stores of a local cluster: a database of its own on the local Postgres, a key prefix of
// its own on the local Redis, and s3rver (an S3-compatible server) over a directory.

/** Database names cluster:local creates and drops: plain identifiers, nothing to quote. */
export const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

/** `adminUrl` with its database replaced by `name`. */
export function databaseUrlFor(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withAdmin<T>(adminUrl: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Creates the database unless it exists; true when it was created. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<boolean> {
  if (!DATABASE_NAME.test(name)) throw new Error(`not a database name cluster:local makes: ${name}`);
  return withAdmin(adminUrl, async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE ${name}`);
    return true;
  });
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  if (!DATABASE_NAME.test(name)) throw new Error(`not a database name cluster:local makes: ${name}`);
  await withAdmin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

export async function databaseExists(adminUrl: string, name: string): Promise<boolean> {
  return withAdmin(adminUrl, async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return (rowCount ?? 0) > 0;
  });
}

const withRedis = async <T>(url: string, run: (redis: Redis) => Promise<T>): Promise<T> => {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    return await run(redis);
  } finally {
    redis.disconnect();
  }
};

/** Keys under `prefix` (the cluster's cache and rate-limit keys). */
export async function redisKeys(url: string, prefix: string): Promise<string[]> {
  if (!prefix) throw new Error('refusing to list every Redis key: the prefix is empty');
  return withRedis(url, async (redis) => {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  });
}

/** Deletes every key under `prefix`; returns how many. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<number> {
  const keys = await redisKeys(url, prefix);
  if (keys.length === 0) return 0;
  await withRedis(url, async (redis) => {
    for (let i = 0; i < keys.length; i += 500) await redis.unlink(...keys.slice(i, i + 500));
  });
  return keys.length;
}

/** s3rver's one account. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** s3rver over `directory` with `bucket` in it; the blobs survive a restart. */
export async function startS3(options: { directory: string; port: number; bucket: string }) {
  await mkdir(options.directory, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port,
    silent: true,
    directory: options.directory,
    configureBuckets: [{ name: options.bucket }],
  });
  const { port } = await server.run();
  return { endpoint: `http://127.0.0.1:${port}`, close: () => server.close() };
}
