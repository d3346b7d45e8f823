import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, migrate } from '../../api/src/db/migrate.ts';
import { createPgliteDatabase } from '../../api/src/db/pglite-database.ts';
import type { IndexingWorker } from '../../api/src/indexing/indexing.worker.ts';
import { shardOf } from '../../search-cluster/src/shard/partition.ts';
import { makePatternImage } from '../fixtures/images/make-patterns.ts';
import {
  type Backend,
  createPostgresBackend,
  postgresAvailable,
  redisAvailable,
} from '../support/backends.ts';
import { freePort, startTestShards, type TestShards } from '../support/processes.ts';
import type { TestApp } from '../support/test-app.ts';
import { useTestApps } from '../support/use-test-apps.ts';
import { drain, searchIds, statusOf } from './helpers.ts';

/** A TCP hop between the router and one shard server: `down()` is a network partition. */
function partitionableProxy(listenPort: number, targetPort: number) {
  let server: Server | null = null;
  const sockets = new Set<Socket>();
  const up = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(targetPort, '127.0.0.1');
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {});
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(listenPort, '127.0.0.1', () => resolve());
    });
  const down = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (!server) return resolve();
      server.close(() => resolve());
      server = null;
    });
  return { up, down };
}

/**
 * Issue 10 item 14: one shard unreachable for longer than the worker's whole retry window.
 * Uploads hashing to it are INDEXED as soon as their record commits, and the shard, which kept
 * running behind the partition, catches up from the embeddings table when it is reachable again,
 * with nobody re-queueing anything.
 */
describe.runIf(postgresAvailable && redisAvailable)(
  'a replica outage loses no upload (postgres, shard processes)',
  () => {
    let backend: Backend;
    let t: TestApp;
    let worker: IndexingWorker;
    let shards: TestShards;
    let proxy: ReturnType<typeof partitionableProxy>;

    useTestApps(
      createPostgresBackend,
      async (open, postgres) => {
        backend = postgres;
        shards = await startTestShards(backend, { env: { CATCH_UP_INTERVAL_MS: '500' } });
        const proxied = await freePort();
        proxy = partitionableProxy(proxied, shards.ports[1]!);
        await proxy.up();
        t = await open(
          {
            PIXELFIND_MODE: 'cluster',
            PIXELFIND_CLUSTER_INCOMPLETE_OK: 'outage test: shard processes over the test backend, no Redis',
            ALLOW_ANONYMOUS_UPLOADS: 'true',
            SHARDS: `${shards.urls[0]},http://127.0.0.1:${proxied}`,
            SHARD_DEADLINE_MS: '1000',
          },
          { nsfw: false, worker: { backoffBaseSeconds: 0, maxAttempts: 5 } },
        );
        worker = await t.services.createWorker();
      },
      180_000,
    );

    afterAll(async () => {
      await proxy?.down();
      await shards?.stop();
    });

    it('uploads during the outage end INDEXED and become searchable once the shard is reachable', async () => {
      await proxy.down();
      const ids: string[] = [];
      for (let seed = 1401; seed < 1409; seed++) {
        const { body } = await t.upload(await makePatternImage(seed), {});
        if (body.errors) throw new Error(JSON.stringify(body.errors));
        ids.push((body.data as { uploadImage: { image: { id: string } } }).uploadImage.image.id);
      }
      const onDownShard = ids.filter((id) => shardOf(BigInt(id), 2) === 1);
      expect(onDownShard.length).toBeGreaterThan(0);
      // every attempt of the worker's retry window runs while the shard is unreachable
      await drain(worker);
      for (const id of ids) expect({ id, status: await statusOf(t, id) }).toEqual({ id, status: 'INDEXED' });

      await proxy.up();
      // no worker run, no re-queue: the shard catches up from the record on its own
      const deadline = Date.now() + 20_000;
      let found: string[] = [];
      while (Date.now() < deadline) {
        found = await searchIds(t, { text: 'red' });
        if (ids.every((id) => found.includes(id))) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(found).toEqual(expect.arrayContaining(ids));
    }, 120_000);
  },
);

/** Rows v1 left FAILED although their record (embedding) committed are repaired by the migration. */
describe('migration 0005 repairs FAILED rows with a committed embedding (pglite)', () => {
  it('marks them INDEXED and leaves real failures FAILED', async () => {
    const v1Dir = await mkdtemp(path.join(tmpdir(), 'pixelfind-v1-migrations-'));
    const db = await createPgliteDatabase(null);
    try {
      await mkdir(v1Dir, { recursive: true });
      for (const file of (await readdir(MIGRATIONS_DIR)).filter((f) => f < '0005')) {
        await copyFile(path.join(MIGRATIONS_DIR, file), path.join(v1Dir, file));
      }
      await migrate(db, v1Dir);
      const insert = async (status: string, safety: number | null) => {
        const { rows } = await db.query<{ id: string }>(
          `INSERT INTO images (storage_url, mime_type, byte_size, width, height, uploader_id, status, sha256, safety_score)
           VALUES ('blob:x', 'image/png', 1, 1, 1, 'u', $1, md5(random()::text) || md5(random()::text), $2)
           RETURNING id::text AS id`,
          [status, safety],
        );
        return rows[0]!.id;
      };
      const lost = await insert('FAILED', 0.9);
      const broken = await insert('FAILED', null);
      await db.query(
        `INSERT INTO embeddings (image_id, model_version, dim, vector) VALUES ($1, 'm', 1, '\\x0000803f')`,
        [lost],
      );
      await migrate(db);
      const { rows } = await db.query<{ id: string; status: string }>(
        'SELECT id::text AS id, status FROM images ORDER BY id',
      );
      expect(rows).toEqual([
        { id: lost, status: 'INDEXED' },
        { id: broken, status: 'FAILED' },
      ]);
    } finally {
      await db.close();
      await rm(v1Dir, { recursive: true, force: true });
    }
  });
});
