import {
  createProcessMetrics,
  metricDefinitions,
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
  const define = metricDefinitions(registry);
  const searchStage = define.histogram(
    'pixelfind_search_stage_seconds',
    'Search latency by stage (encode, fanout, hydrate, rerank) and end to end (total).',
    ['stage'],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5],
  );
  const searches = define.counter(
    'pixelfind_searches_total',
    'Searches answered, by whether a shard missed its deadline (partial: true or false).',
    ['partial'],
  );
  const embeddingCache = define.counter(
    'pixelfind_query_embedding_cache_total',
    "Text query embeddings by source: edge (the edge's signed header), cache (embedding cache hit), encoder (a miss, encoded here).",
    ['source'],
  );
  const hydratePath = define.counter(
    'pixelfind_search_hydrate_total',
    "Searches' hydrate statements by path (search.service.ts#hydrate): page (every candidate's facts were cached, only the page was read and gated), full (a candidate unknown to the facts cache, or the cache off: every candidate read), recheck (the page statement no longer admitted a cached page row, so the full statement ran as well).",
    ['path'],
  );
  const versions = ['model_version', 'ranker_version'] as const;
  const engagement = {
    searches: define.counter(
      'pixelfind_engagement_searches_total',
      'Searches logged (result lists shown, edge cache answers included), by model and ranker version.',
      versions,
    ),
    clicks: define.counter(
      'pixelfind_engagement_clicks_total',
      'Clicks counted (first per query and image), by the model and ranker version of the query clicked.',
      versions,
    ),
    saves: define.counter(
      'pixelfind_engagement_saves_total',
      'New saves, by the model and ranker version serving when the image was saved.',
      versions,
    ),
  };
  const indexing = registerIndexingMetrics(registry);
  const shards = registerShardMetrics(registry);
  return {
    ...base,
    searchStage,
    searches,
    embeddingCache,
    hydratePath,
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
