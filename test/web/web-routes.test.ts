import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSchema, createYoga } from 'graphql-yoga';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexingWorker } from '../../api/src/indexing/indexing.worker.ts';
import { useWebApp, WEB_APP_CSP } from '../../api/src/plugins/use-web-app.ts';
import { thumbKeyFor } from '../../api/src/thumbs/thumbnails.ts';
import { makeColourImage } from '../fixtures/images/make-images.ts';
import { ensureTinyClip } from '../fixtures/tiny-clip/generate.ts';
import { type Backend, backends } from '../support/backends.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';
import { buildWebApp } from './build-web.ts';

const MODERATOR = { role: 'moderator' as const, ownerId: 'mod', keyId: null };

describe('web app and thumbnail routes (pglite)', () => {
  let backend: Backend;
  let t: TestApp;
  let worker: IndexingWorker;
  const get = (url: string, headers: Record<string, string> = {}) =>
    t.app.fetch(`http://pixelfind.test${url}`, { headers });
  const upload = async (colour: 'red' | 'blue' | 'green' | 'magenta', size = 400) => {
    const { body } = await t.upload(await makeColourImage({ colour, size }), {});
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return (body.data as { uploadImage: { image: { id: string } } }).uploadImage.image.id;
  };
  const drain = async () => {
    for (let i = 0; i < 20; i++) if ((await worker.runBatch()).length === 0) return;
  };
  const shaOf = async (id: string) =>
    (await backend.db.query<{ sha256: string }>('SELECT sha256 FROM images WHERE id = $1::bigint', [id]))
      .rows[0]!.sha256;

  beforeAll(async () => {
    await Promise.all([ensureTinyClip(), buildWebApp()]);
    backend = await backends[0]!.create();
    t = await createTestApp(
      backend,
      {},
      { worker: { batchSize: 8, leaseSeconds: 10, backoffBaseSeconds: 0 } },
    );
    worker = await t.services.createWorker();
  }, 240_000);

  afterAll(async () => {
    await t?.close();
    await backend?.dispose();
  });

  describe('the web app', () => {
    it('serves index.html at / with no-cache, a strict CSP and the model version', async () => {
      const response = await get('/');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(response.headers.get('content-security-policy')).toBe(WEB_APP_CSP);
      expect(WEB_APP_CSP).toContain("script-src 'self'");
      expect(WEB_APP_CSP).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
      const html = await response.text();
      expect(html).toContain('<meta name="pixelfind-model-version" content="tiny-clip-v1">');
      // no inline script and nothing from another origin
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    });

    it('serves every asset index.html names under a content hash, cached for a year', async () => {
      const html = await (await get('/')).text();
      const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
      expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
      expect(assets.some((a) => a.endsWith('.css'))).toBe(true);
      for (const asset of assets) {
        expect(asset).toMatch(/-[A-Za-z0-9_-]{8}\.(js|css)$/);
        const response = await get(asset);
        expect(response.status, asset).toBe(200);
        expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(response.headers.get('content-type')).toMatch(
          asset.endsWith('.js') ? /javascript/ : /text\/css/,
        );
        expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      }
    });

    it('answers 404 for an unknown or traversing asset path, 405 for a POST to /', async () => {
      expect((await get('/assets/nothing-here.js')).status).toBe(404);
      expect((await get('/assets/..%2F..%2Fpackage.json')).status).toBe(404);
      expect((await get('/assets/.hidden.js')).status).toBe(404);
      expect((await t.app.fetch('http://pixelfind.test/', { method: 'POST', body: 'x' })).status).toBe(405);
    });

    it('says how to build the app when the build is missing, instead of a 404', async () => {
      const empty = await mkdtemp(path.join(tmpdir(), 'pixelfind-noweb-'));
      try {
        const yoga = createYoga({
          schema: createSchema({ typeDefs: 'type Query { ok: Boolean }' }),
          plugins: [useWebApp({ dir: empty })],
        });
        const response = await yoga.fetch('http://pixelfind.test/');
        expect(response.status).toBe(503);
        expect(await response.text()).toContain('npm run build:web');
      } finally {
        await rm(empty, { recursive: true, force: true });
      }
    });

    it('serves GraphiQL with its scripts inlined: no CDN', async () => {
      const response = await get('/graphql', { accept: 'text/html' });
      expect(response.status).toBe(200);
      const html = await response.text();
      expect(html).toContain('Pixelfind GraphiQL');
      expect(html).not.toMatch(/<script[^>]+src="https?:/);
      expect(html).not.toMatch(/<link[^>]+href="https?:/);
    });
  });

  describe('thumbnails', () => {
    let red = '';
    beforeAll(async () => {
      red = await upload('red');
      await drain();
    });

    it('makes a WebP of at most the asked width, stores it, and revalidates by ETag', async () => {
      const response = await get(`/thumbs/${red}.webp?size=256`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/webp');
      expect(response.headers.get('cache-control')).toBe('public, no-cache');
      const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
      expect(meta.format).toBe('webp');
      expect(meta.width).toBe(256);
      expect(await t.services.blobs.exists(thumbKeyFor(await shaOf(red), 256))).toBe(true);
      const again = await get(`/thumbs/${red}.webp?size=256`, {
        'if-none-match': response.headers.get('etag')!,
      });
      expect(again.status).toBe(304);
      // the default size is 256; a small original is never enlarged
      expect(
        (await sharp(Buffer.from(await (await get(`/thumbs/${red}.webp`)).arrayBuffer())).metadata()).width,
      ).toBe(256);
      expect(
        (
          await sharp(
            Buffer.from(await (await get(`/thumbs/${red}.webp?size=1024`)).arrayBuffer()),
          ).metadata()
        ).width,
      ).toBe(400);
    });

    it('refuses sizes outside the list: a caller cannot fill the store', async () => {
      const response = await get(`/thumbs/${red}.webp?size=300`);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('BAD_USER_INPUT');
    });

    it('never shows a pending, rejected, unknown or malformed image', async () => {
      const pending = await upload('green');
      expect((await get(`/thumbs/${pending}.webp`)).status).toBe(404);
      const magenta = await upload('magenta');
      await drain();
      const { rows } = await backend.db.query<{ status: string }>(
        'SELECT status FROM images WHERE id = $1::bigint',
        [magenta],
      );
      expect(rows[0]!.status).toBe('REJECTED');
      expect((await get(`/thumbs/${magenta}.webp`)).status).toBe(404);
      expect((await get('/thumbs/999999.webp')).status).toBe(404);
      expect((await get('/thumbs/..%2Fsecret.webp')).status).toBe(404);
    });

    it('stops showing an image once it is flagged or deleted, though its thumbnail is stored', async () => {
      const blue = await upload('blue');
      await drain();
      expect((await get(`/thumbs/${blue}.webp`)).status).toBe(200);
      await t.services.moderation.flag(blue, 'test takedown', MODERATOR);
      expect((await get(`/thumbs/${blue}.webp`)).status).toBe(404);
      // nor through the blob route, which would skip the visibility check
      const key = thumbKeyFor(await shaOf(blue), 256);
      expect(await t.services.blobs.exists(key)).toBe(true);
      expect((await get(`/blobs/${key}`)).status).toBe(404);

      expect((await get(`/thumbs/${red}.webp`)).status).toBe(200);
      await t.services.moderation.remove(red, MODERATOR);
      expect((await get(`/thumbs/${red}.webp`)).status).toBe(404);
    });
  });
});
