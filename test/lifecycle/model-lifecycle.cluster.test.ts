import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { ensureTinyModels } from '../fixtures/tiny-clip/generate.ts';
import {
  type Backend,
  createPostgresBackend,
  postgresAvailable,
  redisAvailable,
  TEST_REDIS_URL,
} from '../support/backends.ts';
import { databaseUrlOf, freePort, startShardServer } from '../support/processes.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';
import {
  type Library,
  seedLibrary,
  WALK_ENV,
  WALK_OVERRIDES,
  walkToBroken,
  walkToV2,
} from './lifecycle-walk.ts';

/**
 * The lifecycle walk in cluster mode: two shard server processes learn tiny-clip-v2 over HTTP
 * when its re-index starts, and free tiny-clip-v1 when it is retired.
 */
describe.runIf(postgresAvailable && redisAvailable)(
  'model lifecycle (cluster mode, shard server processes)',
  () => {
    let backend: Backend;
    let t: TestApp;
    let lib: Library;
    let shardDir = '';
    const shards: ChildProcess[] = [];
    beforeAll(async () => {
      await ensureTinyModels();
      backend = await createPostgresBackend();
      const databaseUrl = await databaseUrlOf(backend);
      shardDir = await mkdtemp(path.join(tmpdir(), 'pixelfind-lifecycle-shards-'));
      const ports = [await freePort(), await freePort()];
      for (const [index, port] of ports.entries()) {
        shards.push(
          await startShardServer(
            {
              ...process.env,
              SHARD_ID: String(index),
              SHARD_COUNT: '2',
              PORT: String(port),
              DATA_DIR: path.join(shardDir, `shard-${index}`),
              MODEL_VERSIONS: 'tiny-clip-v1:64',
              DATABASE_URL: databaseUrl,
            },
            port,
          ),
        );
      }
      t = await createTestApp(
        backend,
        {
          ...WALK_ENV,
          PIXELFIND_MODE: 'cluster',
          DATABASE_URL: databaseUrl,
          REDIS_URL: TEST_REDIS_URL,
          SHARDS: ports.map((p) => `http://127.0.0.1:${p}`).join(','),
        },
        WALK_OVERRIDES,
      );
      lib = await seedLibrary(t);
    }, 180_000);
    afterAll(async () => {
      await t?.close();
      for (const child of shards) child.kill('SIGKILL');
      await backend?.dispose();
      if (shardDir) await rm(shardDir, { recursive: true, force: true });
    });

    it('re-indexes to tiny-clip-v2 on the shard servers under search load and retires v1 there', async () => {
      await walkToV2(backend, t, lib);
    }, 240_000);

    it('refuses tiny-clip-broken at the gate with the numbers', async () => {
      await walkToBroken(t, lib);
    }, 120_000);
  },
);
