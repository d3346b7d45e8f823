import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeColourImage } from '../fixtures/images/make-images.ts';
import { backends } from '../support/backends.ts';
import type { TestApp } from '../support/test-app.ts';
import { uploadForm } from '../support/upload-form.ts';
import { useTestApps } from '../support/use-test-apps.ts';

const EVIL = 'https://evil.example';
const URL_ = 'http://pixelfind.test/graphql';

const redUpload = async () =>
  uploadForm(await makeColourImage({ colour: 'red' }), {}, { type: 'image/png', filename: 'a.png' });

describe.each(backends)('item 10: CORS allow-list and CSRF prevention ($name)', ({ create }) => {
  let single: TestApp;
  let cluster: TestApp;

  useTestApps(
    create,
    async (open) => {
      single = await open();
      cluster = await open({
        PIXELFIND_MODE: 'cluster',
        PIXELFIND_CLUSTER_INCOMPLETE_OK: 'CORS/CSRF test: the cluster-mode surface over the test backend',
        HOST: '0.0.0.0',
        PUBLIC_URL: 'https://api.pixelfind.example',
        CORS_ORIGINS: 'https://app.pixelfind.example',
        ALLOW_ANONYMOUS_UPLOADS: 'true',
      });
    },
    60_000,
  );

  const jsonFrom = (t: TestApp, origin: string) =>
    t.app.fetch(URL_, {
      method: 'POST',
      headers: { origin, 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
  const preflight = (t: TestApp, origin: string) =>
    t.app.fetch(URL_, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });

  it('gives a cross-site origin no CORS grant (v1 reflected it with credentials)', async () => {
    for (const t of [single, cluster]) {
      const answer = await jsonFrom(t, EVIL);
      expect(answer.headers.get('access-control-allow-origin')).toBeNull();
      expect(answer.headers.get('access-control-allow-credentials')).toBeNull();
      expect((await preflight(t, EVIL)).headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('grants the allow-listed and own origins, and loopback origins only in single mode', async () => {
    const app = await jsonFrom(cluster, 'https://app.pixelfind.example');
    expect(app.headers.get('access-control-allow-origin')).toBe('https://app.pixelfind.example');
    expect(app.headers.get('access-control-allow-credentials')).toBe('true');
    expect(
      (await preflight(cluster, 'https://api.pixelfind.example')).headers.get('access-control-allow-origin'),
    ).toBe('https://api.pixelfind.example');
    expect(
      (await jsonFrom(cluster, 'http://localhost:5173')).headers.get('access-control-allow-origin'),
    ).toBeNull();
    expect((await jsonFrom(single, 'http://localhost:5173')).headers.get('access-control-allow-origin')).toBe(
      'http://localhost:5173',
    );
  });

  it('refuses a multipart upload without a CSRF header (a cross-site form could send it)', async () => {
    const before = await single.services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM images');
    const answer = await single.app.fetch(URL_, {
      method: 'POST',
      headers: { origin: EVIL },
      body: await redUpload(),
    });
    expect(answer.status).toBe(403);
    const after = await single.services.db.query<{ n: number }>('SELECT count(*)::int AS n FROM images');
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });

  it('accepts our own clients multipart uploads, which send the header', async () => {
    const { status, body } = await single.upload(await makeColourImage({ colour: 'blue' }), {});
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
  });

  it('refuses text/plain POSTs without the header, and form-encoded POSTs always (415)', async () => {
    const plain = await single.app.fetch(URL_, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(plain.status).toBe(403);
    const variants: Record<string, string>[] = [{}, { 'x-graphql-yoga-csrf': '1' }];
    for (const headers of variants) {
      const form = await single.app.fetch(URL_, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ query: 'mutation { __typename }' }).toString(),
      });
      expect(form.status).toBe(415);
    }
  });

  it('keeps GET queries and GET persisted operations working without a header', async () => {
    const plain = await single.app.fetch(`${URL_}?query=${encodeURIComponent('{ __typename }')}`, {
      method: 'GET',
    });
    expect(plain.status).toBe(200);
    const operations = JSON.parse(readFileSync('schema/persisted-operations.json', 'utf8')) as Record<
      string,
      { name: string }
    >;
    const id = Object.entries(operations).find(([, op]) => op.name === 'Search')?.[0];
    expect(id).toBeTruthy();
    const persisted = await single.app.fetch(
      `${URL_}?id=${id}&variables=${encodeURIComponent(JSON.stringify({ input: { text: 'red' } }))}`,
    );
    expect(persisted.status).toBe(200);
  });
});
