import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { makeColourImage, PALETTE } from '../fixtures/images/make-images.ts';
import { createPostgresBackend, postgresAvailable, redisAvailable } from '../support/backends.ts';
import { killedAfterAll, spawnTsx, workerProcessEnv } from '../support/processes.ts';
import type { TestApp } from '../support/test-app.ts';
import { useTestApps } from '../support/use-test-apps.ts';

const UPLOADS = 40;

/**
 * Cluster mode: the worker is its own process on real Postgres. SIGKILL it mid-batch, start
 * another: every upload ends INDEXED, with one embedding each.
 */
describe.runIf(postgresAvailable && redisAvailable)('indexing worker killed mid-batch', () => {
  let t: TestApp;
  let workerEnv: NodeJS.ProcessEnv;
  const children = killedAfterAll();

  const startWorker = () => {
    const child = spawnTsx('api/src/worker-main.ts', workerEnv, { stdout: 'pipe' });
    children.push(child);
    return child;
  };
  const statuses = async () => {
    const { rows } = await t.services.db.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM images GROUP BY status',
    );
    return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
  };
  const waitFor = async (what: () => Promise<boolean>, ms: number) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await what()) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  };

  useTestApps(
    createPostgresBackend,
    async (open) => {
      t = await open();
      const colours = Object.values(PALETTE).filter((_, i) => i !== 8); // not magenta: nothing is rejected
      for (let i = 0; i < UPLOADS; i++) {
        const c = colours[i % colours.length]!;
        const shade: [number, number, number] = [c[0], c[1], (c[2] + i * 3) % 256];
        const bytes = await makeColourImage({
          top: shade,
          bottom: colours[(i + 3) % colours.length]!,
          size: 48,
        });
        const { body } = await t.upload(bytes, {});
        if (body.errors) throw new Error(JSON.stringify(body.errors));
      }
      // one worker process over Postgres; its private in-process shards are not under test
      workerEnv = await workerProcessEnv(t, 'worker-crash test: no Redis or shard servers needed', {
        INDEXER_BATCH_SIZE: '4',
        INDEXER_LEASE_SECONDS: '2',
      });
    },
    120_000,
  );

  it('loses nothing: every upload INDEXED once, every job done', async () => {
    // hold one image's row: the worker's batch that records it waits on the lock, so the worker
    // is killed mid-batch however fast it indexes the batches before (jobs are claimed in order)
    const held = (
      await t.services.db.query<{ id: string }>(
        'SELECT id::text AS id FROM images ORDER BY id OFFSET 20 LIMIT 1',
      )
    ).rows[0]!.id;
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked = () => {};
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holding = t.services.db.transaction(async (tx) => {
      await tx.query('SELECT id FROM images WHERE id = $1 FOR UPDATE', [held]);
      locked();
      await released;
    });
    await isLocked;
    const first = startWorker();
    const runningJobs = async () =>
      (
        await t.services.db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM index_jobs WHERE state = 'running'",
        )
      ).rows[0]!.n;
    // the held image's job is leased: its batch cannot finish until the lock goes, so the kill
    // lands mid-batch (a check on any running job races the worker finishing that batch)
    const heldIsLeased = async () =>
      (
        await t.services.db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM index_jobs WHERE image_id = $1 AND state = 'running'",
          [held],
        )
      ).rows[0]!.n > 0;
    const started = await waitFor(
      async () => ((await statuses()).INDEXED ?? 0) >= 4 && (await heldIsLeased()),
      90_000,
    );
    expect(started).toBe(true);
    expect((await statuses()).INDEXED ?? 0).toBeLessThan(UPLOADS); // killed mid-way
    first.kill('SIGKILL');
    await once(first, 'exit');
    release();
    await holding;
    const leftRunning = await runningJobs();
    expect(leftRunning).toBeGreaterThan(0);

    const second = startWorker();
    const finished = await waitFor(async () => (await statuses()).INDEXED === UPLOADS, 120_000);
    second.kill('SIGTERM');
    await once(second, 'exit');
    expect(finished).toBe(true);
    const embeddings = await t.services.db.query<{ n: number; images: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT image_id)::int AS images FROM embeddings WHERE deleted_at IS NULL',
    );
    expect(embeddings.rows[0]).toEqual({ n: UPLOADS, images: UPLOADS });
    const jobs = await t.services.db.query<{ state: string; n: number }>(
      'SELECT state, count(*)::int AS n FROM index_jobs GROUP BY state',
    );
    expect(jobs.rows).toEqual([{ state: 'done', n: UPLOADS }]);
  }, 240_000);
});
