import { readFileSync } from 'node:fs';
import { Gauge } from 'prom-client';
import { createApiKeysRepository } from './auth/api-keys.repository.ts';
import { createApiKeysService } from './auth/api-keys.service.ts';
import type { Config } from './config/config.ts';
import type { Services } from './context.ts';
import { inTransaction } from './db/unit-of-work.ts';
import { createFeedbackServices } from './feedback/create-feedback-services.ts';
import { startStatsAggregation } from './feedback/stats-aggregation.ts';
import { fetchImageUrl } from './fetch/safe-fetch.ts';
import { buildCore, type CoreGraph, type CoreOverrides } from './graph/core.ts';
import { buildJobsGraph, type JobsGraphOptions } from './graph/jobs.ts';
import { buildWorkerGraph, type WorkerGraphOptions } from './graph/worker.ts';
import { createImagesRepository } from './images/images.repository.ts';
import { JOBS } from './jobs/job-names.ts';
import { reindexRunsTo } from './jobs/reindex-report.ts';
import { createGoldenQueriesRepository } from './lifecycle/golden-queries.repository.ts';
import { createRateLimits } from './limits/rate-limits.ts';
import { registerClusterGauge } from './metrics/cluster-metrics.ts';
import { registerIndexQueueGauge } from './metrics/indexing-metrics.ts';
import { counterFrom, createMetrics, type Metrics } from './metrics/metrics.ts';
import { createContentBlocklistRepository } from './moderation/content-blocklist.repository.ts';
import { createModerationRepository } from './moderation/moderation.repository.ts';
import { createModerationService } from './moderation/moderation.service.ts';
import { createFactsCache } from './search/facts-cache.ts';
import { DEFAULT_RANKER, parseRankerConfig, type RankerConfig } from './search/ranker.ts';
import { manifestRelevance, type RelevancePolicy } from './search/relevance.ts';
import { createSafetyEpoch } from './search/safety-epoch.ts';
import { createSearchRepository } from './search/search.repository.ts';
import { createSearchService } from './search/search.service.ts';
import { blobKeyOf, createUploadService } from './upload/upload.service.ts';

export interface ServiceOverrides
  extends Omit<CoreOverrides, 'shardMetrics'>,
    Omit<WorkerGraphOptions, 'metrics'> {
  ranker?: RankerConfig;
  /** Background jobs' inputs (the canary's golden queries). */
  jobs?: JobsGraphOptions;
  /**
   * The relevance floor per model version (search/relevance.ts). Default: each version's
   * manifest; the model lifecycle's calibrated floor per version plugs in here.
   */
  relevance?: RelevancePolicy;
}

/**
 * The relevance floor per model version: the one the lifecycle calibrated on the golden set at
 * evaluation when there is one, else the version's manifest (issue 11 item 3, issue 11 item 8).
 */
function calibratedRelevance(core: CoreGraph, encoder: CoreGraph['encoder']): RelevancePolicy {
  const manifest = manifestRelevance(encoder.entry ? { [encoder.modelVersion]: encoder.entry } : {});
  return {
    similarityFloorFor: (modelVersion) =>
      core.serving.similarityFloorFor(modelVersion) ?? manifest.similarityFloorFor(modelVersion),
    adaptiveMarginFor: (modelVersion) => manifest.adaptiveMarginFor(modelVersion),
  };
}

/** The API process's graph: the core graph plus what serving GraphQL needs. */
export async function createServices(config: Config, overrides: ServiceOverrides = {}): Promise<Services> {
  // made first: in single mode the in-process shards report into the API's registry
  const metrics = createMetrics();
  const core = await buildCore(config, { ...overrides, shardMetrics: metrics.shards });
  return buildApiGraph(core, config, overrides, metrics);
}

/** Builds the API services over an opened core graph; closing them closes the core too. */
export async function buildApiGraph(
  core: CoreGraph,
  config: Config,
  overrides: ServiceOverrides = {},
  metrics: Metrics = createMetrics(),
): Promise<Services> {
  const { db, cache, blobs, encoder, cluster } = core;
  const ranker =
    overrides.ranker ??
    (config.search.rankerConfigPath
      ? parseRankerConfig(readFileSync(config.search.rankerConfigPath, 'utf8'))
      : DEFAULT_RANKER);
  const safetyEpoch = createSafetyEpoch(createSearchRepository(db));
  // in cluster mode a click may reach another API process before the search's log row lands
  const feedbackServices = createFeedbackServices(db, {
    lateQueryWaitMs: config.mode === 'cluster' ? 500 : 0,
    queryLog: { log: core.log('query-log') },
    // a save has no query: it counts under the versions serving now
    onEngagement: (kind, versions) =>
      metrics.engagement[kind].inc({
        model_version: versions?.modelVersion ?? encoder.modelVersion,
        ranker_version: versions?.rankerVersion ?? ranker.version,
      }),
  });
  const jobs = buildJobsGraph(
    { config, db, cluster, encoder, metrics, log: core.log('jobs') },
    {
      // the canary's text queries include the curated golden set's
      goldenQueries: async () =>
        (await createGoldenQueriesRepository(db).list()).flatMap((q) => (q.text ? [q.text] : [])),
      ...overrides.jobs,
    },
  );
  const statsLog = core.log('stats');
  const stopStats = startStatsAggregation({
    db,
    everyMs: config.statsEveryMs,
    onError: (error) => statsLog.error('image_stats aggregation failed', { error: String(error) }),
    // every run counts in the metrics; only runs that read something or failed get a job_runs row
    onReport: ({ outcome, durationMs, result, error }) => {
      if (outcome === 'skipped') {
        jobs.reporter.observe(JOBS.statsAggregation, 'skipped', durationMs);
        return;
      }
      const details = result
        ? { queries: result.queries, clicks: result.clicks, savedImages: result.savedImages }
        : {};
      // the failure itself is logged by onError
      jobs.reporter
        .record(JOBS.statsAggregation, 'interval', outcome, durationMs, details, error, { quiet: true })
        .catch((e) => statsLog.warn('stats run not recorded', { error: String(e) }));
    },
  });
  const search = createSearchService({
    repository: createSearchRepository(db),
    factsCache: createFactsCache({
      ttlMs: config.search.factsCache.ttlSeconds * 1000,
      maxEntries: config.search.factsCache.maxEntries,
    }),
    metrics,
    cache,
    encoder,
    versions: (callerKey) => core.serving.resolve(callerKey),
    safetyEpoch,
    queryLog: feedbackServices.queryLog,
    searcher: cluster,
    relevance: overrides.relevance ?? calibratedRelevance(core, encoder),
    onTopSimilarity: (modelVersion, kind, similarity) =>
      jobs.drift.observeTopSimilarity(modelVersion, kind, similarity),
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
    safetyEpoch,
    vectors: cluster,
    modelVersions: () => core.serving.writeTargets().map((t) => t.modelVersion),
    log: core.log('api'),
  });

  const rateLimits = createRateLimits(config.rateLimits, config.redisUrl);
  registerIndexQueueGauge(metrics.registry, db);
  registerClusterGauge(metrics.registry, cluster);
  counterFrom(
    metrics.registry,
    'pixelfind_query_log_entries_total',
    'Query log entries by result: written (rows stored), dropped (buffer full), lost (a batch failed twice).',
    () => {
      const { written, dropped, lost } = feedbackServices.queryLog.stats();
      return { written, dropped, lost };
    },
    'result',
  );
  new Gauge({
    name: 'pixelfind_query_log_buffered',
    help: 'Query log entries accepted and not yet written.',
    registers: [metrics.registry],
    collect() {
      this.set(feedbackServices.queryLog.stats().buffered);
    },
  });
  const workers = buildWorkerGraph(core, {
    ...(overrides.worker ? { worker: overrides.worker } : {}),
    ...(overrides.nsfw !== undefined ? { nsfw: overrides.nsfw } : {}),
    ...(overrides.reindex ? { reindex: overrides.reindex } : {}),
    metrics: metrics.indexing,
  });

  const services: Services = {
    config,
    logger: core.logger,
    db,
    cache,
    blobs,
    apiKeys: createApiKeysService(createApiKeysRepository(db), cache),
    upload: createUploadService({
      images: createImagesRepository(db),
      blockedContent: createContentBlocklistRepository(db),
      transaction: inTransaction(db, createImagesRepository),
      blobs,
      limits: config.upload,
      onQueued: () => services.worker?.nudge(),
    }),
    policy: { allowAnonymousUploads: config.allowAnonymousUploads },
    encoder,
    metrics,
    cluster,
    safetyEpoch,
    search,
    moderation,
    rateLimits,
    jobs,
    ...feedbackServices,
    worker: null,
    createWorker: () => workers.createWorker(),
    serving: core.serving,
    lifecycle: core.lifecycle,
    reindex: workers.createReindexRunner(reindexRunsTo(jobs.reporter, core.log('reindex'))),
    async close() {
      await services.worker?.stop();
      await services.reindex.stop();
      await jobs.stop();
      await feedbackServices.queryLog.close();
      await stopStats();
      await rateLimits.close();
      await workers.close();
      await core.close();
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
  jobs.start();
  return services;
}

/** Stops the worker and closes what createServices opened (not what the caller passed in). */
export const closeServices = (services: Services) => services.close();
