import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { makePatternImage } from '../fixtures/images/make-patterns.ts';
import { createPostgresBackend, postgresAvailable, redisAvailable } from '../support/backends.ts';
import { killedAfterAll, spawnTsx, workerProcessEnv } from '../support/processes.ts';
import type { TestApp } from '../support/test-app.ts';
import { useTestApps } from '../support/use-test-apps.ts';
import { statusOf } from './helpers.ts';

const MAX_ATTEMPTS = 3;

/**
 * Issue 10 item 15: an image that kills its worker (segfault, OOM) is claimed at most
 * INDEXER_MAX_ATTEMPTS times, then buried with the image FAILED and the reason. Real worker
 * processes; the poison image makes each one SIGKILL itself while it reads the bytes.
 */
describe.runIf(postgresAvailable && redisAvailable)('a crash-looping job dies (postgres)', () => {
  let t: TestApp;
  let env: NodeJS.ProcessEnv;
  let poison = '';
  const fine: string[] = [];
  const children = killedAfterAll();

  useTestApps(
    createPostgresBackend,
    async (open) => {
      t = await open({ ALLOW_ANONYMOUS_UPLOADS: 'true' });
      const upload = async (seed: number) => {
        const { body } = await t.upload(await makePatternImage(seed), {});
        if (body.errors) throw new Error(JSON.stringify(body.errors));
        return (body.data as { uploadImage: { image: { id: string } } }).uploadImage.image.id;
      };
      fine.push(await upload(1501));
      poison = await upload(1502);
      fine.push(await upload(1503));
      const { rows } = await t.services.db.query<{ sha256: string }>(
        'SELECT sha256 FROM images WHERE id = $1',
        [poison],
      );
      env = await workerProcessEnv(
        t,
        'crash-loop test: real worker processes, no Redis or shard servers needed',
        {
          INDEXER_BATCH_SIZE: '1',
          INDEXER_LEASE_SECONDS: '1',
          INDEXER_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
          PIXELFIND_TEST_DIE_ON_BLOB: rows[0]!.sha256,
        },
      );
    },
    120_000,
  );

  const job = async () =>
    (
      await t.services.db.query<{ state: string; attempts: number; last_error: string | null }>(
        'SELECT state, attempts, last_error FROM index_jobs WHERE image_id = $1',
        [poison],
      )
    ).rows[0]!;

  it('buries the job after the attempt limit, FAILED with the reason, and the worker lives on', async () => {
    let deaths = 0;
    let survivor: ChildProcess | null = null;
    for (let round = 0; round < MAX_ATTEMPTS + 3 && !survivor; round++) {
      const child = spawnTsx('api/src/worker-main.ts', env, {
        preload: ['./test/reliability/fixtures/die-on-blob.mjs'],
      });
      children.push(child);
      const exited = once(child, 'exit').then(() => 'died' as const);
      const settled = (async () => {
        for (let i = 0; i < 300; i++) {
          if ((await job()).state === 'dead' && fine.every(Boolean)) {
            const done = await Promise.all(fine.map((id) => statusOf(t, id)));
            if (done.every((s) => s === 'INDEXED')) return 'settled' as const;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        return 'timeout' as const;
      })();
      const outcome = await Promise.race([exited, settled]);
      if (outcome === 'died') deaths++;
      else if (outcome === 'settled') survivor = child;
      else break;
    }
    expect(deaths).toBe(MAX_ATTEMPTS);
    expect(survivor).not.toBeNull();
    expect(survivor!.exitCode).toBeNull(); // the worker that buried it keeps working
    const buried = await job();
    expect(buried.state).toBe('dead');
    expect(buried.attempts).toBe(MAX_ATTEMPTS);
    expect(buried.last_error).toMatch(/crash loop/);
    expect(await statusOf(t, poison)).toBe('FAILED');
    const { rows } = await t.services.db.query<{ last_error: string }>(
      'SELECT last_error FROM images WHERE id = $1',
      [poison],
    );
    expect(rows[0]!.last_error).toMatch(/worker died 3 times/);
    survivor!.kill('SIGTERM');
    await once(survivor!, 'exit');
  }, 240_000);
});
