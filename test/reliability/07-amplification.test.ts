import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeColourImage } from '../fixtures/images/make-images.ts';
import { ensureTinyClip } from '../fixtures/tiny-clip/generate.ts';
import { type Backend, backends } from '../support/backends.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

describe.each(backends)(
  'item 7: one request cannot amplify into many searches or fetches ($name)',
  ({ create }) => {
    let backend: Backend;
    let t: TestApp;
    let images: Server;
    let imageUrl = '';
    let fetched = 0;

    beforeAll(async () => {
      await ensureTinyClip();
      const png = await makeColourImage({ colour: 'green' });
      images = createServer((_req, res) => {
        fetched++;
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(png);
      });
      await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
      imageUrl = `http://127.0.0.1:${(images.address() as AddressInfo).port}/green.png`;
      backend = await create();
      t = await createTestApp(backend, {
        IMAGE_FETCH_ALLOW_HOSTS: '127.0.0.1',
        IMAGE_FETCHES_PER_CALLER: '3',
      });
    }, 60_000);

    afterAll(async () => {
      await t?.close();
      await backend?.dispose();
      images?.close();
    });

    it('refuses 1,000 aliased searches in one request without running any', async () => {
      const query = `{ ${Array.from({ length: 1000 }, (_, i) => `s${i}: search(input: {text: "red"}) { queryId }`).join(' ')} }`;
      const { status, body } = await t.gql(query);
      expect(status).toBe(400);
      expect(body.data).toBeUndefined();
    });

    it('refuses more search fields than the per-request cap (4 > 3) as BAD_USER_INPUT', async () => {
      const query = `{ ${Array.from({ length: 4 }, (_, i) => `s${i}: search(input: {text: "red"}) { queryId }`).join(' ')} }`;
      const { status, body } = await t.gql(query);
      expect(status).toBe(400);
      expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });

    it('fetches at most one imageUrl per request (v1: one fetch per alias)', async () => {
      fetched = 0;
      const query = `query($url: String!) { ${['a', 'b', 'c']
        .map((alias) => `${alias}: search(input: {imageUrl: $url}) { queryId }`)
        .join(' ')} }`;
      const { body } = await t.gql(query, { url: imageUrl });
      // search is non-null, so the refused aliases null the whole answer; a fetch already under
      // way may still land: give it the time to
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(fetched).toBeLessThanOrEqual(1);
      const codes = (body.errors ?? []).map((e) => e.extensions?.code);
      expect(codes.length).toBeGreaterThan(0);
      expect(codes.every((code) => code === 'BAD_USER_INPUT')).toBe(true);
    });

    it('limits outbound fetches per caller: 429 RATE_LIMITED with Retry-After, no fetch made', async () => {
      const query = 'query($url: String!) { search(input: {imageUrl: $url}) { queryId } }';
      // the previous test spent one of the three
      for (let i = 0; i < 2; i++) expect((await t.gql(query, { url: imageUrl })).body.errors).toBeUndefined();
      fetched = 0;
      const response = await t.app.fetch('http://pixelfind.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ query, variables: { url: imageUrl } }),
      });
      const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
      expect(body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      expect(response.status).toBe(429);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(fetched).toBe(0);
    });
  },
);
