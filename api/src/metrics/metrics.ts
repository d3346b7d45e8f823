import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one API process, served at /metrics. */
export function createMetrics() {
  const registry = new Registry();
  const searchStage = new Histogram({
    name: 'pixelfind_search_stage_seconds',
    help: 'Search latency by stage (encode, fanout, hydrate, rerank) and end to end (total).',
    labelNames: ['stage'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5],
    registers: [registry],
  });
  const searches = new Counter({
    name: 'pixelfind_searches_total',
    help: 'Searches answered, by whether a shard missed its deadline.',
    labelNames: ['partial'] as const,
    registers: [registry],
  });
  const embeddingCache = new Counter({
    name: 'pixelfind_query_embedding_cache_total',
    help: 'Text query embeddings by where they came from: edge (signed header), hit (cache), miss (encoded).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const httpRequests = new Counter({
    name: 'pixelfind_http_requests_total',
    help: 'HTTP requests by path group and status class.',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  const uploadToIndexed = new Histogram({
    name: 'pixelfind_upload_to_indexed_seconds',
    help: 'Seconds from upload to INDEXED, measured by the worker that indexed the image.',
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  return { registry, searchStage, searches, embeddingCache, httpRequests, uploadToIndexed };
}
export type Metrics = ReturnType<typeof createMetrics>;

/** A gauge whose value is read when Prometheus scrapes. */
export function gaugeFrom(
  registry: Registry,
  name: string,
  help: string,
  read: () => Promise<Record<string, number>>,
  label: string,
) {
  return new Gauge({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    async collect() {
      const values = await read().catch(() => ({}) as Record<string, number>);
      for (const [key, value] of Object.entries(values)) this.set({ [label]: key }, value);
    },
  });
}
