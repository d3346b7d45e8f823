import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, createEmbeddedBackend } from '../../../test/support/backends.ts';
import type { EdgeChannel } from '../edge-trust/use-edge-trust.ts';
import { createImageLoaders } from '../images/images.loaders.ts';
import { createImagesRepository } from '../images/images.repository.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import { DEFAULT_RANKER } from './ranker.ts';
import { createSafetyEpoch } from './safety-epoch.ts';
import { createSearchRepository } from './search.repository.ts';
import { createSearchService, type SearchService } from './search.service.ts';

const DIM = 4;
const unit = (i: number) => Float32Array.from({ length: DIM }, (_, j) => (j === i ? 1 : 0));

/** The service, not the GraphQL resolver, counts stages and talks to the edge: any entry point (REST, batch) keeps both. */
describe('search service: metrics and the edge channel belong to the service', () => {
  let backend: Backend;
  let metrics: Metrics;
  let search: SearchService;
  const encoded: string[] = [];

  beforeAll(async () => {
    backend = await createEmbeddedBackend();
    metrics = createMetrics();
    const repository = createSearchRepository(backend.db);
    search = createSearchService({
      repository,
      cache: backend.cache,
      encoder: {
        modelVersion: 'test-model',
        dimension: DIM,
        encodeText: async (text) => {
          encoded.push(text);
          return unit(0);
        },
        encodeImage: async () => unit(1),
      },
      // a shard missed its deadline: the answer is partial
      searcher: { search: async () => ({ hits: [], partial: true }) },
      safetyEpoch: createSafetyEpoch(repository),
      queryLog: { record: () => {} },
      fetchImage: async () => Buffer.alloc(0),
      metrics,
      options: {
        topK: 100,
        safetyThreshold: 0.5,
        ranker: DEFAULT_RANKER,
        embeddingTtlSeconds: 60,
        maxAllowedIds: 1000,
        imageLimits: { maxBytes: 1024, maxPixels: 1024 },
      },
    });
  });
  afterAll(async () => {
    await backend.dispose();
  });

  const ctx = (edge: EdgeChannel) => ({
    loaders: createImageLoaders(createImagesRepository(backend.db)),
    caller: { role: 'anonymous' as const, ownerId: null, keyId: null },
    edge,
  });
  const metric = async (name: string) =>
    (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name)?.values ?? [];

  it('counts every stage, partial answers and where the text embedding came from', async () => {
    const offered: string[] = [];
    const edge: EdgeChannel = { embeddingFor: () => null, offer: (o) => offered.push(o.text) };
    await search.search({ text: 'Red  Car' }, ctx(edge));
    await search.search({ text: 'red car' }, ctx(edge));
    // the edge's signed embedding spares the encoder and is not offered back
    const signed: EdgeChannel = {
      embeddingFor: () => unit(2),
      offer: (o) => offered.push(`again:${o.text}`),
    };
    await search.search({ text: 'blue' }, ctx(signed));

    // one encode: the second text is the same query once normalised (the cache key normalises)
    expect(encoded).toEqual(['Red  Car']);
    expect(offered).toEqual(['Red  Car', 'red car']);
    const searches = await metric('pixelfind_searches_total');
    expect(searches).toEqual([expect.objectContaining({ labels: { partial: 'true' }, value: 3 })]);
    const sources = Object.fromEntries(
      (await metric('pixelfind_query_embedding_cache_total')).map((v) => [v.labels.source, v.value]),
    );
    expect(sources).toEqual({ encoder: 1, cache: 1, edge: 1 });
    const counts = (await metric('pixelfind_search_stage_seconds'))
      .filter((v) => (v as { metricName?: string }).metricName === 'pixelfind_search_stage_seconds_count')
      .map((v) => [v.labels.stage, v.value]);
    expect(Object.fromEntries(counts)).toEqual({ encode: 3, fanout: 3, hydrate: 3, rerank: 3, total: 3 });
  });
});
