import { rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { IndexingWorker } from '../../api/src/indexing/indexing.worker.ts';
import { blobKeyOf } from '../../api/src/upload/upload.service.ts';
import { makeColourImage } from '../fixtures/images/make-images.ts';
import { makePatternImage } from '../fixtures/images/make-patterns.ts';
import { backends } from '../support/backends.ts';
import { keysFor } from '../support/keys.ts';
import type { TestApp } from '../support/test-app.ts';
import { useTestApps } from '../support/use-test-apps.ts';
import { DELETE, drain, FLAG, gqlOk, IMAGE, IMAGES, statusOf, uploadAs } from './helpers.ts';

type Headers = Record<string, string>;

/**
 * Issue 10 item 3: a flagged, REJECTED, FAILED, PENDING or deleted image is visible only to its
 * uploader (not when deleted) and moderators, through image(id), images(ids) and the blob URL.
 */
describe.each(backends)('not public anywhere ($name)', ({ create }) => {
  let t: TestApp;
  let worker: IndexingWorker;
  let keys: Record<'ann' | 'bob' | 'mod', Headers>;
  const ids: Record<string, string> = {};
  const blobPath: Record<string, string> = {};

  useTestApps(
    create,
    async (open) => {
      t = await open({}, { nsfw: false, worker: { maxAttempts: 1 } });
      worker = await t.services.createWorker();
      keys = await keysFor(t, { ann: 'user', bob: 'user', mod: 'moderator' });
      const upload = async (name: string, bytes: Buffer) => {
        ids[name] = (await uploadAs(t, keys.ann, 'ann', bytes)).id;
        const data = await gqlOk<{ image: { storageUrl: string } }>(t, IMAGE, { id: ids[name] }, keys.mod);
        blobPath[name] = new URL(data.image.storageUrl).pathname;
      };
      await upload('public', await makePatternImage(301));
      await upload('flagged', await makePatternImage(302));
      await upload('rejected', await makeColourImage({ colour: 'magenta' }));
      await upload('failed', await makePatternImage(303));
      await upload('deleted', await makePatternImage(304));
      // the blob of 'failed' goes missing: its one attempt fails and buries it
      const { rows } = await t.services.db.query<{ storage_url: string }>(
        'SELECT storage_url FROM images WHERE id = $1',
        [ids.failed],
      );
      await rm(path.join(t.blobDir, blobKeyOf(rows[0]!.storage_url)), { force: true });
      await drain(worker);
      await upload('pending', await makePatternImage(305));
      await gqlOk(t, FLAG, { id: ids.flagged }, keys.mod);
      await gqlOk(t, DELETE, { id: ids.deleted }, keys.ann);
    },
    120_000,
  );

  it('sets the stage: one image in each state', async () => {
    expect(await statusOf(t, ids.public!)).toBe('INDEXED');
    expect(await statusOf(t, ids.flagged!)).toBe('INDEXED');
    expect(await statusOf(t, ids.rejected!)).toBe('REJECTED');
    expect(await statusOf(t, ids.failed!)).toBe('FAILED');
    expect(await statusOf(t, ids.deleted!)).toBe('DELETED');
    expect(await statusOf(t, ids.pending!)).toBe('PENDING');
  });

  const hidden = ['flagged', 'rejected', 'failed', 'pending', 'deleted'];
  const image = async (id: string, headers: Headers) => (await t.gql(IMAGE, { id }, headers)).body;

  it.each(hidden)(
    'image(id) of a %s image: null for anonymous callers and other users, as for an unknown id',
    async (name) => {
      for (const headers of [{}, keys.bob]) {
        const body = await image(ids[name]!, headers);
        expect(body.data).toEqual({ image: null });
        expect(body.errors).toBeUndefined();
      }
    },
  );

  it.each(hidden.filter((n) => n !== 'deleted'))(
    'image(id) of a %s image: shown to its uploader and moderators',
    async (name) => {
      for (const headers of [keys.ann, keys.mod])
        expect((await image(ids[name]!, headers)).data?.image).toBeTruthy();
    },
  );

  it('images(ids) over the whole id range lists only public images to anyone else', async () => {
    const range = Array.from({ length: 100 }, (_, i) => String(i + 1));
    for (const headers of [{}, keys.bob]) {
      const { images } = await gqlOk<{ images: ({ id: string; status: string } | null)[] }>(
        t,
        IMAGES,
        { ids: range },
        headers,
      );
      const shown = images.filter((x) => x !== null);
      expect(shown.map((x) => x.id)).toEqual([ids.public]);
      expect(shown.every((x) => x.status === 'INDEXED')).toBe(true);
    }
    const asAnn = await gqlOk<{ images: ({ id: string } | null)[] }>(t, IMAGES, { ids: range }, keys.ann);
    expect(asAnn.images.filter((x) => x !== null).length).toBe(5); // all but the deleted one
  });

  const blob = (name: string, headers: Headers = {}) =>
    t.app.fetch(`http://pixelfind.test${blobPath[name]}`, { headers });

  it.each(hidden)('the blob URL of a %s image: 404 for anonymous callers and other users', async (name) => {
    for (const headers of [{}, keys.bob]) expect((await blob(name, headers)).status).toBe(404);
  });

  it('serves a hidden image to its uploader, and never lets a shared cache keep blob bytes', async () => {
    const own = await blob('flagged', keys.ann);
    expect(own.status).toBe(200);
    const open = await blob('public');
    expect(open.status).toBe(200);
    for (const response of [own, open]) {
      const cacheControl = response.headers.get('cache-control') ?? '';
      expect(cacheControl).toMatch(/\bprivate\b/);
      expect(cacheControl).not.toMatch(/immutable|public/);
      expect(Number(/max-age=(\d+)/.exec(cacheControl)?.[1])).toBeLessThanOrEqual(300);
    }
  });
});
