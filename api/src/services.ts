import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createApiKeysRepository } from './auth/api-keys.repository.ts';
import { createApiKeysService } from './auth/api-keys.service.ts';
import type { BlobStore } from './blobs/blob-store.ts';
import { createBlobStore } from './blobs/create-blob-store.ts';
import type { Cache } from './cache/cache.ts';
import { createCache } from './cache/create-cache.ts';
import { createClusterClient } from './cluster/cluster.client.ts';
import type { Config } from './config/config.ts';
import type { Services } from './context.ts';
import { createDatabase } from './db/create-database.ts';
import type { Database } from './db/database.ts';
import { migrate } from './db/migrate.ts';
import { createEncoder, createSafetyScorer, type Encoder, type SafetyScorer } from './encoder/index.ts';
import { createFeedbackServices } from './feedback/create-feedback-services.ts';
import { startStatsAggregation } from './feedback/stats-aggregation.ts';
import { fetchImageUrl } from './fetch/safe-fetch.ts';
import { createImagesRepository } from './images/images.repository.ts';
import { createIndexJobsRepository } from './indexing/index-jobs.repository.ts';
import { createIndexingWorker, type IndexingWorker, type WorkerOptions } from './indexing/indexing.worker.ts';
import { createRateLimits } from './limits/rate-limits.ts';
import { createMetrics, gaugeFrom } from './metrics/metrics.ts';
import { createModerationRepository } from './moderation/moderation.repository.ts';
import { createModerationService } from './moderation/moderation.service.ts';
import { createBlocklist } from './search/blocklist.ts';
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
  const cluster = await createClusterClient({
    shards: config.shards.remote ?? String(config.shards.inProcessCount),
    deadlineMs: config.shards.deadlineMs,
    modelVersions: [{ name: encoder.modelVersion, dimension: encoder.dimension }],
    db,
    dataDir: config.dataDir,
    authToken: config.shards.authToken,
  });
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
  const metrics = createMetrics();
  const search = createSearchService({
    repository: createSearchRepository(db),
    metrics,
    cache,
    encoder,
    blocklist,
    queryLog: feedbackServices.queryLog,
    searcher: cluster,
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
    images: createImagesRepository(db),
    moderation: createModerationRepository(db),
    blobs,
    blocklist,
    vectors: cluster,
    modelVersion: () => encoder.modelVersion,
    log,
  });

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
    cluster,
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
          vectors: cluster,
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
      await cluster.close();
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
