import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeColourImage } from '../../../test/fixtures/images/make-images.ts';
import { makePatternImage, transformImage } from '../../../test/fixtures/images/make-patterns.ts';
import { ensureTinyClip } from '../../../test/fixtures/tiny-clip/generate.ts';
import { type Backend, backends } from '../../../test/support/backends.ts';
import { createTestApp, NO_BACKGROUND_JOBS, type TestApp } from '../../../test/support/test-app.ts';
import { perceptualHash } from '../images/phash.ts';
import { createContentBlocklistRepository } from '../moderation/content-blocklist.repository.ts';
import { blobKeyOf } from '../upload/upload.service.ts';

describe.each(backends)('indexing worker ($name)', ({ create }) => {
  let backend: Backend;
  let t: TestApp;

  beforeAll(async () => {
    await ensureTinyClip();
    backend = await create();
    // a test below counts a batch's statements: no background job may write into that window
    t = await createTestApp(backend, NO_BACKGROUND_JOBS, {
      nsfw: false,
      worker: { batchSize: 4, maxAttempts: 2, backoffBaseSeconds: 0 },
    });
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await backend.dispose();
  });

  // each uploader uploads with its own user key (anonymous uploads all share one uploader id)
  const keys = new Map<string, string>();
  const upload = async (bytes: Buffer, uploaderId = 'w') => {
    if (!keys.has(uploaderId))
      keys.set(uploaderId, (await t.services.apiKeys.create('user', uploaderId)).key);
    const headers = { authorization: `Bearer ${keys.get(uploaderId)}` };
    const { body } = await t.upload(bytes, {}, { headers });
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return (body.data as { uploadImage: { image: { id: string } } }).uploadImage.image.id;
  };
  const row = async (id: string) =>
    (
      await backend.db.query<{ status: string; last_error: string | null; duplicate_of: string | null }>(
        'SELECT status, last_error, duplicate_of::text AS duplicate_of FROM images WHERE id = $1',
        [id],
      )
    ).rows[0]!;
  const count = async (sql: string, params: unknown[]) =>
    (await backend.db.query<{ n: number }>(sql, params)).rows[0]!.n;
  const embeddingsOf = (ids: string[]) =>
    count('SELECT count(*)::int AS n FROM embeddings WHERE image_id = ANY($1::bigint[])', [ids]);

  it('a job run twice leaves one embedding, one set of tags and one vector', async () => {
    const worker = await t.services.createWorker();
    const id = await upload(await makeColourImage({ top: 'green', bottom: 'black' }));
    expect(await worker.runBatch()).toEqual(['indexed']);
    // the same job again, as after a lease that expired on a slow worker
    await backend.db.query(`UPDATE index_jobs SET state = 'queued', run_after = now() WHERE image_id = $1`, [
      id,
    ]);
    expect(await worker.runBatch()).toEqual(['indexed']);
    expect(await count('SELECT count(*)::int AS n FROM embeddings WHERE image_id = $1', [id])).toBe(1);
    const tags = await backend.db.query<{ label: string; n: number }>(
      `SELECT label, count(*)::int AS n FROM tags WHERE image_id = $1 AND source = 'clip-zero-shot' GROUP BY label`,
      [id],
    );
    expect(tags.rows.length).toBeGreaterThan(0);
    expect(tags.rows.every((r) => r.n === 1)).toBe(true);
    const vector = (
      await t.services.search.search(
        { imageId: id, limit: 100 },
        {
          loaders: (
            await import('../images/images.loaders.ts')
          ).createImageLoaders(
            (await import('../images/images.repository.ts')).createImagesRepository(backend.db),
          ),
          caller: { role: 'anonymous', ownerId: null, keyId: null },
        },
      )
    ).hits.filter((h) => h.image.id === id);
    expect(vector).toHaveLength(1);
  });

  it('does not index the same bytes twice: a second uploader gets a duplicate pointer', async () => {
    const worker = await t.services.createWorker();
    const bytes = await makeColourImage({ left: 'orange', right: 'cyan' });
    const first = await upload(bytes, 'first');
    const second = await upload(bytes, 'second');
    expect((await worker.runBatch()).sort()).toEqual(['duplicate', 'indexed']);
    const rows = [await row(first), await row(second)];
    expect(rows.map((r) => r.status)).toEqual(['INDEXED', 'INDEXED']);
    expect(rows[1]!.duplicate_of).toBe(first);
    expect(await embeddingsOf([first, second])).toBe(1);
  });

  it('settles a batch of four in the statements of a batch of one, and copies after their original', async () => {
    const worker = await t.services.createWorker();
    // the window opens once the uploads' own writes have settled (one of them could land in it)
    const settled = async () => {
      for (let last = -1; last !== backend.db.statementCount; ) {
        last = backend.db.statementCount;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const statementsOf = async (expected: string[]) => {
      await settled();
      const before = backend.db.statementCount;
      expect(await worker.runBatch()).toEqual(expected);
      return backend.db.statementCount - before;
    };
    // an unmeasured batch first: whatever the worker loads once is loaded before either window
    await upload(await makePatternImage(300, { format: 'jpeg' }), 'batch-warm');
    expect(await worker.runBatch()).toHaveLength(1);
    await upload(await makePatternImage(301, { format: 'jpeg' }), 'batch-one');
    const one = await statementsOf(['indexed']);
    // seeds the tiny model's safety check passes (some patterns come out magenta enough to fail)
    for (const seed of [310, 311, 313, 314])
      await upload(await makePatternImage(seed, { format: 'jpeg' }), 'batch-four');
    expect(await statementsOf(['indexed', 'indexed', 'indexed', 'indexed'])).toBe(one);
    // three uploaders of the same bytes in one batch: the first is indexed, the others point at it
    const bytes = await makePatternImage(320, { format: 'jpeg' });
    const ids = [await upload(bytes, 'copy-a'), await upload(bytes, 'copy-b'), await upload(bytes, 'copy-c')];
    expect(await worker.runBatch()).toEqual(['indexed', 'duplicate', 'duplicate']);
    expect((await Promise.all(ids.map(row))).map((r) => [r.status, r.duplicate_of])).toEqual([
      ['INDEXED', null],
      ['INDEXED', ids[0]],
      ['INDEXED', ids[0]],
    ]);
    expect(await embeddingsOf(ids)).toBe(1);
  });

  it('a record that cannot be written fails its own job only: its batch-mates are indexed, it retries', async () => {
    const worker = await t.services.createWorker();
    const ids = [
      await upload(await makePatternImage(401, { format: 'jpeg' }), 'fault'),
      await upload(await makePatternImage(402, { format: 'jpeg' }), 'fault'),
      await upload(await makePatternImage(403, { format: 'jpeg' }), 'fault'),
    ];
    // a fault in the database for the middle image's record alone
    await backend.db.exec(`
      CREATE FUNCTION refuse_indexed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'record refused'; END $$;
      CREATE TRIGGER refuse_indexed BEFORE UPDATE OF status ON images FOR EACH ROW
        WHEN (NEW.status = 'INDEXED' AND NEW.id = ${Number(ids[1])}) EXECUTE FUNCTION refuse_indexed();`);
    try {
      expect(await worker.runBatch()).toEqual(['indexed', 'retry', 'indexed']);
    } finally {
      await backend.db.exec('DROP TRIGGER refuse_indexed ON images; DROP FUNCTION refuse_indexed();');
    }
    expect((await Promise.all(ids.map(row))).map((r) => r.status)).toEqual(['INDEXED', 'PENDING', 'INDEXED']);
    expect((await row(ids[1]!)).last_error).toBeNull();
    // nothing of the refused record was kept, and the job is queued again with its error
    expect(await embeddingsOf([ids[1]!])).toBe(0);
    const job = await backend.db.query<{ state: string; last_error: string }>(
      'SELECT state, last_error FROM index_jobs WHERE image_id = $1',
      [ids[1]],
    );
    expect(job.rows[0]).toMatchObject({
      state: 'queued',
      last_error: expect.stringMatching(/record refused/),
    });
    expect(await worker.runBatch()).toEqual(['indexed']);
    expect(await embeddingsOf(ids)).toBe(3);
  });

  it('rejects content flagged after it was queued: the bytes, and a re-encoded copy by its pHash', async () => {
    const worker = await t.services.createWorker();
    const original = await makePatternImage(77, { format: 'jpeg' });
    const copy = await transformImage(original, { kind: 'jpeg', quality: 60 });
    const originalId = await upload(original, 'flagged-original');
    const copyId = await upload(copy, 'flagged-copy');
    const [sha] = await backend.db
      .query<{ sha256: string }>('SELECT sha256 FROM images WHERE id = $1', [originalId])
      .then((r) => r.rows);
    await createContentBlocklistRepository(backend.db).block({
      sha256: sha!.sha256,
      phash: (await perceptualHash(original)).hash,
      sourceImage: originalId,
      reason: 'test',
      flaggedBy: null,
    });
    expect(await worker.runBatch()).toEqual(['rejected', 'rejected']);
    expect([(await row(originalId)).status, (await row(copyId)).status]).toEqual(['REJECTED', 'REJECTED']);
    expect(await embeddingsOf([originalId, copyId])).toBe(0);
  });

  it('gates each image of a batch on its own safety score: the unsafe one alone is rejected', async () => {
    const worker = await t.services.createWorker();
    const ids = [
      await upload(await makeColourImage({ colour: 'green', size: 48 })),
      await upload(await makeColourImage({ colour: 'magenta', size: 48 })), // the tiny model's unsafe concept
      await upload(await makeColourImage({ colour: 'blue', size: 48 })),
    ];
    expect(await worker.runBatch()).toEqual(['indexed', 'rejected', 'indexed']);
    expect(await Promise.all(ids.map(async (id) => (await row(id)).status))).toEqual([
      'INDEXED',
      'REJECTED',
      'INDEXED',
    ]);
  });

  it('retries a failing job, then marks the image FAILED with the last error', async () => {
    const worker = await t.services.createWorker();
    const id = await upload(await makeColourImage({ colour: 'yellow', size: 40 }));
    const [image] = await t.services.db
      .query<{ storage_url: string }>('SELECT storage_url FROM images WHERE id = $1', [id])
      .then((r) => r.rows);
    await t.services.blobs.delete(blobKeyOf(image!.storage_url));
    expect(await worker.runBatch()).toEqual(['retry']);
    expect((await row(id)).status).toBe('PENDING');
    expect(await worker.runBatch()).toEqual(['dead']);
    const failed = await row(id);
    expect(failed.status).toBe('FAILED');
    expect(failed.last_error).toMatch(/missing/);
    expect(
      await count(`SELECT count(*)::int AS n FROM index_jobs WHERE image_id = $1 AND state = 'dead'`, [id]),
    ).toBe(1);
  });

  it('stops gracefully: a stopped worker holds no lease', async () => {
    const worker = await t.services.createWorker();
    for (let i = 0; i < 6; i++)
      await upload(await makeColourImage({ colour: [i * 40, 90, 200 - i * 30], size: 32 }));
    worker.start();
    await worker.stop();
    expect(await count(`SELECT count(*)::int AS n FROM index_jobs WHERE state = 'running'`, [])).toBe(0);
    // what it did not finish is still queued for the next worker
    const next = await t.services.createWorker();
    while ((await next.runBatch()).length > 0) {}
    expect(await count(`SELECT count(*)::int AS n FROM images WHERE status = 'PENDING'`, [])).toBe(0);
  });
});
