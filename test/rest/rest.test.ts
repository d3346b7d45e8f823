import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import type { IndexingWorker } from '../../api/src/indexing/indexing.worker.ts';
import { makeColourImage } from '../fixtures/images/make-images.ts';
import { backends } from '../support/backends.ts';
import type { TestApp } from '../support/test-app.ts';
import { useTestApps } from '../support/use-test-apps.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const openapi = JSON.parse(readFileSync(path.join(here, '../../schema/openapi.json'), 'utf8'));

// the OpenAPI document's components as one JSON Schema 2020-12 registry
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addFormat('date-time', (value: string) => !Number.isNaN(Date.parse(value)));
ajv.addFormat('uri', (value: string) => URL.canParse(value));
ajv.addSchema({ $id: 'openapi', components: openapi.components });

/** The response schema the document gives for a path, method and status. */
function responseSchema(route: string, method: string, status: number) {
  const response = openapi.paths[route]?.[method]?.responses?.[String(status)];
  if (!response) throw new Error(`${method.toUpperCase()} ${route} documents no ${status} answer`);
  const ref: string = response.$ref ?? '';
  const resolved = ref ? openapi.components.responses[ref.split('/').pop()!] : response;
  const schema = resolved.content['application/json'].schema;
  return { $ref: `openapi#${schema.$ref.slice(1)}` };
}

// biome-ignore lint/suspicious/noExplicitAny: a JSON body already validated against the document
type RestBody = any;

/** Asserts that a real answer matches the document, and returns its body. */
async function documented(response: Response, route: string, method: string): Promise<RestBody> {
  const body = await response.json();
  const validate = ajv.compile(responseSchema(route, method, response.status));
  if (!validate(body))
    throw new Error(`${response.status} ${JSON.stringify(body)}: ${ajv.errorsText(validate.errors)}`);
  return body;
}

describe.each(backends)('REST routes of the product spec ($name)', ({ create }) => {
  let t: TestApp;
  let worker: IndexingWorker;
  let userKey: string;
  let otherKey: string;
  const base = 'http://pixelfind.test';
  const call = (url: string, init: RequestInit = {}) => t.app.fetch(new Request(`${base}${url}`, init));

  const uploadRest = async (bytes: Buffer, metadata: unknown, headers: Record<string, string>) => {
    const form = new FormData();
    form.set('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), 'image.png');
    if (metadata !== undefined) form.set('metadata', JSON.stringify(metadata));
    return call('/images', { method: 'POST', headers, body: form });
  };

  useTestApps(
    create,
    async (open) => {
      t = await open({}, { worker: { batchSize: 8, leaseSeconds: 10, backoffBaseSeconds: 0 } });
      worker = await t.services.createWorker();
      userKey = (await t.services.apiKeys.create('user', 'rest-user')).key;
      otherKey = (await t.services.apiKeys.create('user', 'rest-other')).key;
    },
    240_000,
  );

  it("serves the allow-list in Apollo's manifest format at /persisted-query-manifest.json", async () => {
    const response = await call('/persisted-query-manifest.json');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(
      JSON.parse(readFileSync(path.join(here, '../../schema/persisted-query-manifest.json'), 'utf8')),
    );
  });

  it('serves the checked-in OpenAPI 3.1 document at /openapi.json', async () => {
    const response = await call('/openapi.json');
    expect(response.status).toBe(200);
    const served = await response.json();
    expect(served).toEqual(openapi);
    expect(served.openapi).toBe('3.1.0');
    expect(Object.keys(served.paths).sort()).toEqual(
      ['/images', '/images/{image_id}', '/search', '/search/{query_id}/click'].sort(),
    );
  });

  let imageId = '';
  it('POST /images: 201 pending for a new image, 200 with the same id for the same bytes', async () => {
    const bytes = await makeColourImage({ colour: 'red', format: 'png' });
    const headers = { 'x-api-key': userKey };
    const first = await uploadRest(bytes, { uploader_id: 'rest-user', tags_hint: ['Apple'] }, headers);
    expect(first.status).toBe(201);
    const created = await documented(first, '/images', 'post');
    expect(created.status).toBe('pending');
    expect(created.storage_url).toBeTruthy();
    imageId = created.image_id;

    const again = await uploadRest(bytes, { uploader_id: 'rest-user' }, headers);
    expect(again.status).toBe(200);
    expect((await documented(again, '/images', 'post')).image_id).toBe(imageId);
  });

  it('POST /images refuses a multipart POST with neither an API key nor a CSRF header, and bad metadata', async () => {
    const bytes = await makeColourImage({ colour: 'blue', format: 'png' });
    const csrf = await uploadRest(bytes, { uploader_id: 'x' }, {});
    expect(csrf.status).toBe(400);
    expect((await documented(csrf, '/images', 'post')).error.code).toBe('BAD_USER_INPUT');

    const form = new FormData();
    form.set('file', new Blob([new Uint8Array(bytes)]), 'x.png');
    form.set('metadata', '{not json');
    const broken = await call('/images', { method: 'POST', headers: { 'x-api-key': userKey }, body: form });
    expect(broken.status).toBe(400);
    expect((await documented(broken, '/images', 'post')).error.message).toMatch(/metadata/);

    const json = await call('/images', {
      method: 'POST',
      headers: { 'x-api-key': userKey, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(json.status).toBe(415);
    expect((await documented(json, '/images', 'post')).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');

    // another uploader's id with a user key: the caller (the key's owner) is the uploader
    const other = await uploadRest(bytes, { uploader_id: 'someone-else' }, { 'x-api-key': userKey });
    expect(other.status).toBe(201);
    const { rows } = await t.services.db.query<{ uploader_id: string }>(
      'SELECT uploader_id FROM images WHERE id = $1',
      [(await documented(other, '/images', 'post')).image_id],
    );
    expect(rows[0]!.uploader_id).toBe('rest-user');
    const badType = await uploadRest(bytes, { uploader_id: 7 }, { 'x-api-key': userKey });
    expect(badType.status).toBe(400);
    const body = await documented(badType, '/images', 'post');
    expect(body.error).toEqual({ code: 'BAD_USER_INPUT', message: 'Expected uploader_id to be a string' });
    expect(body.error).not.toHaveProperty('locations');
  });

  it('GET /images/{id}: the uploader sees its pending image; others get 404 as for an unknown id', async () => {
    const own = await call(`/images/${imageId}`, { headers: { 'x-api-key': userKey } });
    expect(own.status).toBe(200);
    const image = await documented(own, '/images/{image_id}', 'get');
    expect(image).toMatchObject({ image_id: imageId, status: 'pending', width: 64, height: 64 });
    expect(image.tags).toContainEqual({ label: 'apple', confidence: 1, source: 'user' });

    const callers: Record<string, string>[] = [{}, { 'x-api-key': otherKey }];
    for (const headers of callers) {
      const hidden = await call(`/images/${imageId}`, { headers });
      expect(hidden.status).toBe(404);
      expect((await documented(hidden, '/images/{image_id}', 'get')).error.code).toBe('NOT_FOUND');
    }
    const unknown = await call('/images/987654321');
    expect(unknown.status).toBe(404);
    expect(await documented(unknown, '/images/{image_id}', 'get')).toEqual({
      error: { code: 'NOT_FOUND', message: 'No such image' },
    });
    const malformed = await call('/images/not-an-id');
    expect(malformed.status).toBe(400);
    expect((await documented(malformed, '/images/{image_id}', 'get')).error.code).toBe('BAD_USER_INPUT');
  });

  it('GET /search and POST /search/{query_id}/click once the image is indexed', async () => {
    for (let i = 0; i < 50; i++) if ((await worker.runBatch()).length === 0) break;
    const indexed = await documented(await call(`/images/${imageId}`), '/images/{image_id}', 'get');
    expect(indexed.status).toBe('indexed');

    const found = await call('/search?q=red&limit=5&offset=0&filter_label=apple', {
      headers: { 'x-api-key': userKey },
    });
    expect(found.status).toBe(200);
    const results = await documented(found, '/search', 'get');
    expect(results.results.map((r: { image_id: string }) => r.image_id)).toContain(imageId);
    expect(results.results[0].tags.map((tag: { label: string }) => tag.label)).toContain('apple');

    const none = await documented(
      await call('/search?q=red&filter_label=nothing-has-this'),
      '/search',
      'get',
    );
    expect(none.results).toEqual([]);
    expect(none.nothing_relevant).toBe(true);
    expect(results.nothing_relevant).toBe(false);
    // the relevance floor can be set per request; out of [-1, 1] is a coded 400
    const strict = await documented(await call('/search?q=green&min_similarity=0.9'), '/search', 'get');
    expect(strict).toMatchObject({ results: [], nothing_relevant: true });
    const badFloor = await call('/search?q=red&min_similarity=2');
    expect(badFloor.status).toBe(400);
    expect((await documented(badFloor, '/search', 'get')).error.code).toBe('BAD_USER_INPUT');

    const missing = await call('/search');
    expect(missing.status).toBe(400);
    expect((await documented(missing, '/search', 'get')).error.code).toBe('BAD_USER_INPUT');
    const badLimit = await call('/search?q=red&limit=many');
    expect(badLimit.status).toBe(400);
    await documented(badLimit, '/search', 'get');

    const click = (body: string, type = 'application/json') =>
      call(`/search/${results.query_id}/click`, {
        method: 'POST',
        headers: { 'x-api-key': userKey, 'content-type': type },
        body,
      });
    const clicked = await click(JSON.stringify({ clicked_id: imageId }));
    expect(clicked.status).toBe(200);
    expect(await documented(clicked, '/search/{query_id}/click', 'post')).toEqual({ ok: true });
    const route = '/search/{query_id}/click';
    expect((await documented(await click('{"clicked_id": 5}'), route, 'post')).error.code).toBe(
      'BAD_USER_INPUT',
    );
    const plain = await click(JSON.stringify({ clicked_id: imageId }), 'text/plain');
    expect(plain.status).toBe(415);
    await documented(plain, route, 'post');
    // another caller's query: NOT_FOUND, as GraphQL answers
    const foreign = await call(`/search/${results.query_id}/click`, {
      method: 'POST',
      headers: { 'x-api-key': otherKey, 'content-type': 'application/json' },
      body: JSON.stringify({ clicked_id: imageId }),
    });
    expect(foreign.status).toBe(404);
    await documented(foreign, route, 'post');
  });

  it('DELETE /images/{id}: only the uploader; afterwards the image is gone', async () => {
    const refused = await call(`/images/${imageId}`, {
      method: 'DELETE',
      headers: { 'x-api-key': otherKey },
    });
    expect(refused.status).toBeGreaterThanOrEqual(403);
    expect(refused.status).toBeLessThanOrEqual(404);
    await documented(refused, '/images/{image_id}', 'delete');

    const deleted = await call(`/images/${imageId}`, { method: 'DELETE', headers: { 'x-api-key': userKey } });
    expect(deleted.status).toBe(200);
    expect(await documented(deleted, '/images/{image_id}', 'delete')).toEqual({
      image_id: imageId,
      deleted: true,
    });
    const gone = await call(`/images/${imageId}`);
    expect(gone.status).toBe(404);
    await documented(gone, '/images/{image_id}', 'get');
  });

  it('GraphQL-over-HTTP: partial data answers 200; image(id) is null for a missing id', async () => {
    const missing = await t.gql<{ image: unknown }>('{ image(id: "987654321") { id } }');
    expect(missing.status).toBe(200);
    expect(missing.body.errors).toBeUndefined();
    expect(missing.body.data).toEqual({ image: null });

    // one field fails with a coded 4xx error, the other answers: data is present, so 2xx
    const partial = await t.gql<{ a: unknown; b: unknown }>(
      '{ a: image(id: "1") { id } b: image(id: "x") { id } }',
    );
    expect(partial.status).toBe(200);
    expect(partial.body.data).toEqual({ a: null, b: null });
    expect(partial.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    // no data at all: the error's own status stays
    const failed = await t.gql('{ search(input: {}) { queryId } }');
    expect(failed.status).toBe(400);
    expect(failed.body.data ?? null).toBeNull();
  });
});
