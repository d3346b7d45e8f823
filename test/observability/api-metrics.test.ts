import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { IndexingWorker } from '../../api/src/indexing/indexing.worker.ts';
import { makeColourImage } from '../fixtures/images/make-images.ts';
import { type Backend, backends } from '../support/backends.ts';
import { sample } from '../support/prometheus-text.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

const SEARCH = `query($t: String!) { search(input: { text: $t, limit: 5 }) { queryId modelVersion hits { image { id } } } }`;
const CLICK = `mutation($q: ID!, $i: ID!) { recordClick(input: { queryId: $q, imageId: $i }) { position } }`;
const SAVE = `mutation($i: ID!) { saveImage(input: { imageId: $i }) { image { id } } }`;

describe('API /metrics and /readyz in single mode (in-process shards and worker)', () => {
  const { create } = backends[0]!;
  let backend: Backend;
  let t: TestApp;
  let worker: IndexingWorker;
  let headers: Record<string, string>;
  const scrape = async () => (await t.app.fetch('http://pixelfind.test/metrics')).text();

  beforeAll(async () => {
    backend = await create();
    // a loaded machine must not make a shard late: every search here is whole
    t = await createTestApp(backend, { SHARD_DEADLINE_MS: '10000' }, { nsfw: false });
    worker = await t.services.createWorker();
    const { key } = await t.services.apiKeys.create('user', 'ann');
    headers = { authorization: `Bearer ${key}` };
    for (const colour of ['red', 'blue'] as const) {
      const { body } = await t.upload(await makeColourImage({ colour, size: 32 }), {}, { headers });
      if (body.errors) throw new Error(JSON.stringify(body.errors));
    }
    while ((await worker.runBatch()).length > 0) {}
  });
  afterAll(async () => {
    await t?.close();
    await backend?.dispose();
  });

  it("exports the in-process shards' series, freshness and job outcomes on the API's /metrics", async () => {
    const text = await scrape();
    const mv = t.services.encoder.modelVersion;
    const vectors = ['0', '1'].map(
      (shard) => sample(text, 'pixelfind_shard_vectors', { shard, model_version: mv, tier: 'hot' }) ?? 0,
    );
    expect(vectors[0]! + vectors[1]!).toBe(2);
    expect(sample(text, 'pixelfind_shard_ready', { shard: '0', model_version: mv })).toBe(1);
    expect(sample(text, 'pixelfind_cluster_replicas', { shard: '1', status: 'ok' })).toBe(1);
    expect(sample(text, 'pixelfind_cluster_replicas', { shard: '1', status: 'down' })).toBe(0);
    expect(sample(text, 'pixelfind_upload_to_indexed_seconds_count')).toBe(2);
    expect(sample(text, 'pixelfind_index_jobs_settled_total', { outcome: 'indexed' })).toBe(2);
    expect(sample(text, 'pixelfind_index_jobs', { state: 'queued' })).toBe(0);
    // default process and Node metrics
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('counts searches, clicks and saves by model and ranker version, and the query log as counters', async () => {
    const { body } = await t.gql<{
      search: { queryId: string; modelVersion: string; hits: { image: { id: string } }[] };
    }>(SEARCH, { t: 'red' }, headers);
    const { queryId, modelVersion, hits } = body.data!.search;
    const imageId = hits[0]!.image.id;
    expect((await t.gql(CLICK, { q: queryId, i: imageId }, headers)).body.errors).toBeUndefined();
    // a second click on the same result counts nothing
    expect((await t.gql(CLICK, { q: queryId, i: imageId }, headers)).body.errors).toBeUndefined();
    expect((await t.gql(SAVE, { i: imageId }, headers)).body.errors).toBeUndefined();
    await t.services.queryLog.flush();

    const text = await scrape();
    const versions = { model_version: modelVersion, ranker_version: 'r1' };
    expect(sample(text, 'pixelfind_engagement_searches_total', versions)).toBe(1);
    expect(sample(text, 'pixelfind_engagement_clicks_total', versions)).toBe(1);
    expect(sample(text, 'pixelfind_engagement_saves_total', versions)).toBe(1);
    expect(sample(text, 'pixelfind_query_log_entries_total', { result: 'written' })).toBe(1);
    expect(sample(text, 'pixelfind_query_log_entries_total', { result: 'dropped' })).toBe(0);
    expect(text).toMatch(/# TYPE pixelfind_query_log_entries_total counter/);
    expect(sample(text, 'pixelfind_shard_search_seconds_count', { tier: 'hot' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'pixelfind_query_embedding_cache_total', { source: 'encoder' })).toBe(1);
  });

  it('names request routes from a fixed set: random paths share one "other" series', async () => {
    for (let i = 0; i < 5; i++) await t.app.fetch(`http://pixelfind.test/no-such-${i}/${Math.random()}`);
    await t.app.fetch('http://pixelfind.test/thumbs/12345.webp');
    const text = await scrape();
    const routes = new Set(
      [...text.matchAll(/pixelfind_http_request_duration_seconds_count\{route="([^"]*)"/g)].map((m) => m[1]),
    );
    expect(routes.has('other')).toBe(true);
    expect([...routes].some((route) => route?.includes('no-such'))).toBe(false);
    expect(routes.has('/thumbs/*')).toBe(true);
    expect(
      sample(text, 'pixelfind_http_request_duration_seconds_count', { route: 'other', method: 'GET' }),
    ).toBe(5);
  });

  it('answers /readyz 503 naming the blob store when it fails, while /healthz stays 200', async () => {
    const ready = await t.app.fetch('http://pixelfind.test/readyz');
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { database: 'ok', cache: 'ok', blobs: 'ok', shards: 'ok' },
    });
    const check = vi.spyOn(t.services.blobs, 'check').mockRejectedValue(new Error('bucket unreachable'));
    try {
      const failing = await t.app.fetch('http://pixelfind.test/readyz');
      expect(failing.status).toBe(503);
      expect(await failing.json()).toMatchObject({ checks: { blobs: 'bucket unreachable', shards: 'ok' } });
      expect((await t.app.fetch('http://pixelfind.test/healthz')).status).toBe(200);
    } finally {
      check.mockRestore();
    }
  });

  it('answers /readyz 503 naming the shards when no replica of a shard serves', async () => {
    const health = vi.spyOn(t.services.cluster, 'health').mockResolvedValue({
      status: 'down',
      shards: [
        { index: 0, serving: 1, replicas: [] },
        { index: 1, serving: 0, replicas: [] },
      ],
    });
    try {
      const failing = await t.app.fetch('http://pixelfind.test/readyz');
      expect(failing.status).toBe(503);
      expect(await failing.json()).toMatchObject({ checks: { shards: 'no serving replica for shard 1' } });
    } finally {
      health.mockRestore();
    }
  });
});
