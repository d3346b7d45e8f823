import { Counter, Histogram } from 'prom-client';
import {
  createProcessMetrics,
  type RouteTable,
  registerShardMetrics,
} from '../../../search-cluster/src/index.ts';
import { registerIndexingMetrics } from './indexing-metrics.ts';

export { counterFrom, gaugeFrom } from '../../../search-cluster/src/index.ts';

/**
 * The API's routes as the `route` label names them; any other path is `other`. A REST call is
 * timed as the in-process `/graphql` request it becomes (as the access log shows it).
 */
export const API_ROUTES: RouteTable = {
  exact: [
    '/graphql',
    '/healthz',
    '/readyz',
    '/metrics',
    '/',
    '/index.html',
    '/openapi.json',
    '/search',
    '/images',
  ],
  prefixes: [
    ['/blobs/', '/blobs/*'],
    ['/thumbs/', '/thumbs/*'],
    ['/assets/', '/assets/*'],
  ],
  patterns: [
    [/^\/images\/[^/]+$/, '/images/:id'],
    [/^\/search\/[^/]+\/click$/, '/search/:id/click'],
  ],
};

/**
 * Prometheus metrics of one API process, served at /metrics: the shared process metrics
 * (default Node metrics, HTTP durations), search, engagement and query-log counters, the
 * indexing metrics (the in-process worker of single mode observes them) and the in-process
 * shards' `pixelfind_shard_*` series (single mode; none when the shards are remote). Other
 * modules register their own series on `registry`.
 */
export function createMetrics() {
  const base = createProcessMetrics({ routes: API_ROUTES });
  const { registry } = base;
  const searchStage = new Histogram({
    name: 'pixelfind_search_stage_seconds',
    help: 'Search latency by stage (encode, fanout, hydrate, rerank) and end to end (total).',
    labelNames: ['stage'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5],
    registers: [registry],
  });
  const searches = new Counter({
    name: 'pixelfind_searches_total',
    help: 'Searches answered, by whether a shard missed its deadline (partial: true or false).',
    labelNames: ['partial'] as const,
    registers: [registry],
  });
  const embeddingCache = new Counter({
    name: 'pixelfind_query_embedding_cache_total',
    help: "Text query embeddings by source: edge (the edge's signed header), cache (embedding cache hit), encoder (a miss, encoded here).",
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const versions = ['model_version', 'ranker_version'] as const;
  const engagement = {
    searches: new Counter({
      name: 'pixelfind_engagement_searches_total',
      help: 'Searches logged (result lists shown, edge cache answers included), by model and ranker version.',
      labelNames: versions,
      registers: [registry],
    }),
    clicks: new Counter({
      name: 'pixelfind_engagement_clicks_total',
      help: 'Clicks counted (first per query and image), by the model and ranker version of the query clicked.',
      labelNames: versions,
      registers: [registry],
    }),
    saves: new Counter({
      name: 'pixelfind_engagement_saves_total',
      help: 'New saves, by the model and ranker version serving when the image was saved.',
      labelNames: versions,
      registers: [registry],
    }),
  };
  const indexing = registerIndexingMetrics(registry);
  const shards = registerShardMetrics(registry);
  return {
    ...base,
    searchStage,
    searches,
    embeddingCache,
    engagement,
    indexing,
    /** Kept for callers that observe freshness directly. */
    uploadToIndexed: indexing.uploadToIndexed,
    shards,
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

/** Which engagement event happened, and under which versions. */
export type EngagementKind = keyof Metrics['engagement'];
export interface ServedVersions {
  modelVersion: string;
  rankerVersion: string;
}
