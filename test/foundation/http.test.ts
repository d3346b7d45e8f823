import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, backends } from '../support/backends.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

const tinyJpeg = () =>
  sharp({ create: { width: 8, height: 8, channels: 3, background: '#3366aa' } })
    .jpeg()
    .toBuffer();

describe.each(backends)('GraphQL over HTTP, health and keys ($name)', ({ create }) => {
  let backend: Backend;
  let t: TestApp;
  let open: TestApp;

  beforeAll(async () => {
    backend = await create();
    t = await createTestApp(backend, { ALLOW_ANONYMOUS_UPLOADS: 'false' });
    open = await createTestApp(backend);
  });
  afterAll(async () => {
    await t.close();
    await open.close();
    await backend.dispose();
  });

  it('answers a GET query with application/graphql-response+json', async () => {
    const response = await t.app.fetch('http://pixelfind.test/graphql?query=%7B__typename%7D', {
      headers: { accept: 'application/graphql-response+json' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/graphql-response\+json/);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses a mutation sent with GET (405) and a malformed query (400)', async () => {
    const mutation = encodeURIComponent('mutation { uploadImage(input: { file: null }) { image { id } } }');
    const viaGet = await t.app.fetch(`http://pixelfind.test/graphql?query=${mutation}`, {
      headers: { accept: 'application/graphql-response+json' },
    });
    expect(viaGet.status).toBe(405);
    const broken = await t.gql('{ image(id: ');
    expect(broken.status).toBe(400);
    expect(broken.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
  });

  it('serves GraphiQL to a browser', async () => {
    const response = await t.app.fetch('http://pixelfind.test/graphql', { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('Pixelfind GraphiQL');
  });

  it('reports liveness and readiness', async () => {
    const health = await t.app.fetch('http://pixelfind.test/healthz');
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await t.app.fetch('http://pixelfind.test/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      checks: { database: 'ok', cache: 'ok', blobs: 'ok', shards: 'ok' },
    });
  });

  it('exposes Prometheus metrics: requests, index queue depth, query log', async () => {
    await t.app.fetch('http://pixelfind.test/healthz');
    const response = await t.app.fetch('http://pixelfind.test/metrics');
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toMatch(
      /pixelfind_http_request_duration_seconds_count\{route="\/healthz",method="GET",status="2xx"\} [1-9]/,
    );
    expect(text).toContain('pixelfind_index_jobs{state="queued"}');
    expect(text).toContain('pixelfind_query_log_entries_total{result="dropped"} 0');
  });

  it('refuses anonymous uploads unless the deployment allows them', async () => {
    const refused = await t.upload(await tinyJpeg(), {});
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const allowed = await open.upload(await tinyJpeg(), {});
    expect(allowed.body.errors).toBeUndefined();
  });

  it('makes a user key the uploader of what it sends, and stores only the key hash', async () => {
    const { key } = await t.services.apiKeys.create('user', 'dana');
    const headers = { authorization: `Bearer ${key}` };
    const own = await t.upload(await tinyJpeg(), {}, { headers });
    expect(own.body.errors).toBeUndefined();
    const image = (own.body.data as { uploadImage: { image: { uploaderId: string } } }).uploadImage.image;
    expect(image.uploaderId).toBe('dana');
    const stored = await backend.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM api_keys WHERE key_hash = $1 OR prefix = $1',
      [key],
    );
    expect(stored.rows[0]!.n).toBe(0);
  });

  it('refuses a partner key a plain (not persisted) operation, and an unknown key', async () => {
    const { key } = await t.services.apiKeys.create('partner', 'acme');
    const partner = await t.upload(await tinyJpeg(), {}, { headers: { 'x-api-key': key } });
    expect(partner.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
    const forged = await t.gql('{ __typename }', {}, { authorization: `Bearer pf_admin_${'A'.repeat(32)}` });
    expect(forged.status).toBe(401);
    expect(forged.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
