import {
  componentLogger,
  createLogger,
  type Logger,
  type RootLogger,
  type ShardMetrics,
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

/** Adapters a caller (a test) passes in; the graph does not close what it did not open. */
export interface CoreOverrides {
  db?: Database;
  cache?: Cache;
  blobs?: BlobStore;
  encoder?: Encoder;
  /** The process's root logger. Default: one made from LOG_LEVEL. */
  logger?: RootLogger;
  /** Where in-process shards report their `pixelfind_shard_*` series (the API's registry). Default: nowhere. */
  shardMetrics?: ShardMetrics;
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
  const cluster = await buildSearchCluster(config, db, encoder, logger, overrides.shardMetrics);
  return {
    config,
    logger,
    log,
    db,
    cache,
    blobs,
    encoder,
    cluster,
    async close() {
      await cluster.close();
      if (!overrides.encoder) await encoder.close();
      if (!overrides.cache) await cache.close();
      if (!overrides.db) await db.close();
    },
  };
}
