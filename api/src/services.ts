import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PostgresVectorSource } from '../../search-cluster/src/rebuild/postgres-vector-source.ts';
import { createRouter, parseShardsSetting } from '../../search-cluster/src/router/config.ts';
import type { ShardRouter } from '../../search-cluster/src/router/router.ts';
import { createApiKeysRepository } from './auth/api-keys.repository.ts';
import { createApiKeysService } from './auth/api-keys.service.ts';
import type { BlobStore } from './blobs/blob-store.ts';
import { createBlobStore } from './blobs/create-blob-store.ts';
import type { Cache } from './cache/cache.ts';
import { createCache } from './cache/create-cache.ts';
import type { Config } from './config/config.ts';
import type { Services } from './context.ts';
import { createDatabase } from './db/create-database.ts';
import type { Database } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { createEncoder, createSafetyScorer, type Encoder, type SafetyScorer } from './encoder/index.ts';
import { createFeedbackServices } from './feedback/create-feedback-services.ts';
import { startStatsAggregation } from './feedback/stats-aggregation.ts';
import { fetchImageUrl } from './fetch/safe-fetch.ts';
import { createIndexJobsRepository } from './indexing/index-jobs.repository.ts';
import type { VectorWriter } from './indexing/indexing.ports.ts';
import { createIndexingWorker, type IndexingWorker, type WorkerOptions } from './indexing/indexing.worker.ts';
import { createRateLimits } from './limits/rate-limits.ts';
import { createMetrics, gaugeFrom } from './metrics/metrics.ts';
import { createModerationService } from './moderation/moderation.service.ts';
import { createBlocklist } from './search/blocklist.ts';
import { clusterErrorToAppError } from './search/cluster-errors.ts';
import { DEFAULT_RANKER, parseRankerConfig, type RankerConfig } from './search/ranker.ts';
import { createSearchRepository } from './search/search.repository.ts';
import { createSearchService } from './search/search.service.ts';
import { blobKeyOf, createUploadService } from './upload/upload.service.ts';

export interface ServiceOverrides {
  db?: Database;
  cache?: Cache;
  blobs?: BlobStore;
  encoder?: Encoder;
  ranker?: RankerConfig;
  /** Options for workers made by createWorker (tests shorten leases and backoff). */
  worker?: WorkerOptions;
  /** nsfwjs in the safety score; tests of unrelated behaviour may turn it off. Default true. */
  nsfw?: boolean;
}

export const log = (msg: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ level: 'info', time: new Date().toISOString(), msg, ...fields }));

async function buildRouter(config: Config, db: Database, encoder: Encoder): Promise<ShardRouter> {
  const modelVersions = [{ name: encoder.modelVersion, dimension: encoder.dimension }];
  const setting = parseShardsSetting(config.shards.remote ?? String(config.shards.inProcessCount));
  if (setting.mode === 'remote') return createRouter({ ...setting, deadlineMs: config.shards.deadlineMs });
  return createRouter({
    mode: 'in-process',
    shards: setting.shards,
    modelVersions,
    source: new PostgresVectorSource(db),
    dataDir: path.join(config.dataDir, 'shards'),
    deadlineMs: config.shards.deadlineMs,
  });
}

/** Builds the process-wide dependencies from configuration; adapters are picked here only. */
export async function createServices(config: Config, overrides: ServiceOverrides = {}): Promise<Services> {
  const db =
    overrides.db ?? (await createDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
  await migrate(db);
  const cache = overrides.cache ?? createCache({ redisUrl: config.redisUrl });
  const blobs =
    overrides.blobs ??
    (config.blobs.kind === 'local'
      ? createBlobStore({ kind: 'local', dir: config.blobs.dir })
      : createBlobStore(config.blobs));
  const encoder =
    overrides.encoder ??
    (await createEncoder({
      modelsDir: path.join(config.dataDir, 'models'),
      env: { ...process.env, DATA_DIR: config.dataDir },
    }));
  const router = await buildRouter(config, db, encoder);
  const vectors: VectorWriter = {
    upsert: async (modelVersion, items) => {
      await router.upsert(modelVersion, items);
    },
    remove: async (modelVersion, ids) => {
      await router.delete(modelVersion, ids);
    },
  };
  const ranker =
    overrides.ranker ??
    (config.search.rankerConfigPath
      ? parseRankerConfig(readFileSync(config.search.rankerConfigPath, 'utf8'))
      : DEFAULT_RANKER);
  const blocklist = createBlocklist(cache, createSearchRepository(db));
  // in cluster mode a click may reach another API process before the search's log row lands
  const feedbackServices = createFeedbackServices(db, {
    lateQueryWaitMs: config.mode === 'cluster' ? 500 : 0,
  });
  const stopStats = startStatsAggregation({
    db,
    everyMs: config.statsEveryMs,
    onError: (error) => log('image_stats aggregation failed', { error: String(error) }),
  });
  const search = createSearchService({
    db,
    cache,
    encoder,
    blocklist,
    queryLog: feedbackServices.queryLog,
    searcher: {
      search: async (modelVersion, query, k, options) => {
        try {
          const result = await router.search(modelVersion, query, k, options);
          return { hits: result.hits, partial: result.partial };
        } catch (error) {
          throw clusterErrorToAppError(error);
        }
      },
    },
    fetchImage: (url) =>
      fetchImageUrl(url, { maxBytes: config.upload.maxBytes, allowHosts: config.search.fetchAllowHosts }),
    options: {
      topK: config.search.topK,
      safetyThreshold: config.search.safetyThreshold,
      ranker,
      embeddingTtlSeconds: config.search.embeddingTtlSeconds,
      maxAllowedIds: 100_000,
      imageLimits: config.upload,
    },
  });
  const moderation = createModerationService({
    db,
    blobs,
    blocklist,
    vectors,
    modelVersion: () => encoder.modelVersion,
    log,
  });

  const metrics = createMetrics();
  const rateLimits = createRateLimits(config.rateLimits, config.redisUrl);
  gaugeFrom(
    metrics.registry,
    'pixelfind_index_jobs',
    'Index jobs by state.',
    () => createIndexJobsRepository(db).depth(),
    'state',
  );
  gaugeFrom(
    metrics.registry,
    'pixelfind_query_log',
    'Query log buffer: buffered, written, dropped, lost.',
    async () => {
      const { buffered, written, dropped, lost } = feedbackServices.queryLog.stats();
      return { buffered, written, dropped, lost };
    },
    'counter',
  );

  let safety: Promise<SafetyScorer> | null = null;
  const services: Services = {
    config,
    db,
    cache,
    blobs,
    apiKeys: createApiKeysService(createApiKeysRepository(db), cache),
    upload: createUploadService({
      db,
      blobs,
      limits: config.upload,
      onQueued: () => services.worker?.nudge(),
    }),
    policy: { allowAnonymousUploads: config.allowAnonymousUploads },
    encoder,
    metrics,
    router,
    blocklist,
    search,
    moderation,
    rateLimits,
    ...feedbackServices,
    worker: null,
    async createWorker(): Promise<IndexingWorker> {
      safety ??= createSafetyScorer({ encoder, nsfw: overrides.nsfw ?? true });
      return createIndexingWorker(
        {
          db,
          blobs,
          embedder: encoder,
          safety: await safety,
          vectors,
          log,
          onIndexed: (seconds) => metrics.uploadToIndexed.observe(seconds),
        },
        { safetyThreshold: config.search.safetyThreshold, ...config.indexer, ...overrides.worker },
      );
    },
    async close() {
      await services.worker?.stop();
      await feedbackServices.queryLog.close();
      await stopStats();
      await router.close();
      await rateLimits.close();
      if (safety) await (await safety).close();
      if (!overrides.encoder) await encoder.close();
      if (!overrides.cache) await cache.close();
      if (!overrides.db) await db.close();
    },
    blobUrl(storageUrl) {
      const key = blobKeyOf(storageUrl);
      return (
        blobs.publicUrl(key) ??
        `${config.publicUrl}/blobs/${key.split('/').map(encodeURIComponent).join('/')}`
      );
    },
  };
  if (config.inProcessWorker) {
    services.worker = await services.createWorker();
  }
  return services;
}

/** Stops the worker and closes what createServices opened (not what the caller passed in). */
export const closeServices = (services: Services) => services.close();
