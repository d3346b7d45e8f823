import {
  componentLogger,
  createLogger,
  type Logger,
  type RootLogger,
  type ShardMetrics,
  type TierOptions,
  useNativeAddon,
} from '../../../search-cluster/src/index.ts';
import type { BlobStore } from '../blobs/blob-store.ts';
import { createBlobStore } from '../blobs/create-blob-store.ts';
import type { Cache } from '../cache/cache.ts';
import { createCache } from '../cache/create-cache.ts';
import { type ClusterClient, createClusterClient } from '../cluster/cluster.client.ts';
import type { Config, CoreConfig } from '../config/config.ts';
import { createDatabase } from '../db/create-database.ts';
import type { Database } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import { createEncoder, type Encoder } from '../encoder/index.ts';
import { createEncoderPool, type EncoderLoader, type EncoderPool } from '../lifecycle/encoder-pool.ts';
import { createIndexVersionsRepository } from '../lifecycle/index-versions.repository.ts';
import { createLifecycleService, type LifecycleService } from '../lifecycle/lifecycle.service.ts';
import { createServing, type Serving } from '../lifecycle/serving.ts';
import { createQualityRepository } from '../quality/quality.repository.ts';
import { createSearchRepository } from '../search/search.repository.ts';

/** Adapters a caller (a test) passes in; the graph does not close what it did not open. */
export interface CoreOverrides {
  db?: Database;
  cache?: Cache;
  blobs?: BlobStore;
  encoder?: Encoder;
  /** Loads another model version's encoder (tests: generated models). Default: createEncoder. */
  loadEncoder?: EncoderLoader;
  /** The process's root logger. Default: one made from LOG_LEVEL. */
  logger?: RootLogger;
  /** Where in-process shards report their `pixelfind_shard_*` series (the API's registry). Default: nowhere. */
  shardMetrics?: ShardMetrics;
  /** In-process shards' tier options (benches force a main tier). Default: the shard defaults. */
  shardTiers?: Partial<TierOptions>;
}

/** What both the API and the worker process need: stores, the encoder, the search cluster. */
export interface CoreGraph {
  config: CoreConfig;
  logger: RootLogger;
  /** The child logger of one component. */
  log(component: string): Logger;
  db: Database;
  cache: Cache;
  blobs: BlobStore;
  encoder: Encoder;
  /** The search cluster as the rest of the API sees it (built in buildSearchCluster only). */
  cluster: ClusterClient;
  /** One encoder per model version served or built here (the configured one first). */
  encoders: EncoderPool;
  /** Which model version serves each query (Postgres index_versions, re-read every poll). */
  serving: Serving;
  /** Re-index, gate, promote, rollback, traffic slice, golden queries. */
  lifecycle: LifecycleService;
  /** Closes what buildCore opened, last opened first. */
  close(): Promise<void>;
}

/**
 * The one place the search cluster is built: in-process shards over the embeddings table, or
 * remote shard servers. Swap this function to put another client in front of the cluster.
 */
export function buildSearchCluster(
  config: CoreConfig,
  db: Database,
  encoder: Encoder,
  logger: RootLogger,
  shardMetrics?: ShardMetrics,
  shardTiers?: Partial<TierOptions>,
): Promise<ClusterClient> {
  return createClusterClient({
    shards: config.shards.remote ?? String(config.shards.inProcessCount),
    deadlineMs: config.shards.deadlineMs,
    modelVersions: [{ name: encoder.modelVersion, dimension: encoder.dimension }],
    db,
    dataDir: config.dataDir,
    authToken: config.shards.authToken,
    log: componentLogger(logger, 'shard'),
    // the API's threshold check rebuilds one replica at a time; without it the shards do it themselves
    selfRebuild: !('jobs' in config) || (config as Config).jobs.rebuildCheckCron === null,
    ...(shardMetrics ? { shardMetrics } : {}),
    ...(shardTiers ? { tiers: shardTiers } : {}),
  });
}

/** Opens the core graph from configuration; adapters are picked here only. */
export async function buildCore(config: CoreConfig, overrides: CoreOverrides = {}): Promise<CoreGraph> {
  const logger = overrides.logger ?? createLogger({ level: config.logLevel });
  const log = (component: string) => componentLogger(logger, component);
  if (config.clusterIncompleteReason) {
    log('api').warn('cluster mode without DATABASE_URL, REDIS_URL or SHARDS', {
      reason: config.clusterIncompleteReason,
    });
  }
  useNativeAddon(config.faissAddon);
  const db =
    overrides.db ??
    (await createDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, log: log('db') }));
  await migrate(db);
  const cache = overrides.cache ?? createCache({ redisUrl: config.redisUrl, prefix: config.redisPrefix });
  const blobs =
    overrides.blobs ??
    (config.blobs.kind === 'local'
      ? createBlobStore({ kind: 'local', dir: config.blobs.dir })
      : createBlobStore(config.blobs));
  const encoder =
    overrides.encoder ??
    (await createEncoder({
      modelsDir: config.encoder.modelsDir,
      ...(config.encoder.model ? { model: config.encoder.model } : {}),
      executionProvider: config.encoder.executionProvider,
      ...(config.encoder.intraOpThreads ? { intraOpThreads: config.encoder.intraOpThreads } : {}),
      allowSpinning: config.encoder.allowSpinning,
      logger: log('encoder'),
    }));
  const cluster = await buildSearchCluster(
    config,
    db,
    encoder,
    logger,
    overrides.shardMetrics,
    overrides.shardTiers,
  );
  const load: EncoderLoader =
    overrides.loadEncoder ??
    ((model) =>
      createEncoder({
        modelsDir: config.encoder.modelsDir,
        model,
        executionProvider: config.encoder.executionProvider,
        ...(config.encoder.intraOpThreads ? { intraOpThreads: config.encoder.intraOpThreads } : {}),
        allowSpinning: config.encoder.allowSpinning,
        logger: log('encoder'),
      }));
  const encoders = createEncoderPool(encoder, load);
  const serving = createServing({
    versions: createIndexVersionsRepository(db),
    pool: encoders,
    cluster,
    pollMs: config.lifecycle.pollMs,
    log: log('lifecycle'),
  });
  const lifecycle = createLifecycleService({
    db,
    pool: encoders,
    serving,
    cluster,
    evaluation: {
      quality: createQualityRepository(db),
      search: createSearchRepository(db),
      searcher: cluster,
    },
    settings: {
      goldenRatio: config.lifecycle.goldenRatio,
      minAnnRecall: config.lifecycle.minAnnRecall,
      rollbackWindowSeconds: config.lifecycle.rollbackWindowSeconds,
      dropRetiredEmbeddings: config.lifecycle.dropRetiredEmbeddings,
      autoModel: config.lifecycle.autoReindex ? encoder.modelVersion : null,
    },
    log: log('lifecycle'),
  });
  // the version Postgres says is ACTIVE serves from the first query (first-day flow: the
  // configured model may not be it yet)
  await serving.refresh();
  serving.start();
  const retireTimer = setInterval(
    () => {
      lifecycle
        .retireCold()
        .catch((error: unknown) => log('lifecycle').warn('retirement failed', { error: String(error) }));
    },
    Math.max(1000, Math.min(60_000, (config.lifecycle.rollbackWindowSeconds * 1000) / 4)),
  );
  retireTimer.unref();
  await lifecycle.startConfiguredModel();
  return {
    config,
    logger,
    log,
    db,
    cache,
    blobs,
    encoder,
    cluster,
    encoders,
    serving,
    lifecycle,
    async close() {
      clearInterval(retireTimer);
      await serving.stop();
      await cluster.close();
      await encoders.close();
      if (!overrides.encoder) await encoder.close();
      if (!overrides.cache) await cache.close();
      if (!overrides.db) await db.close();
    },
  };
}
