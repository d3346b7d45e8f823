/**
 * One shard server replica as its own process: `npm run search-cluster`. Its variables (SHARD_ID,
 * SHARD_COUNT, PORT, HOST, SHARD_AUTH_TOKEN, DATA_DIR, MODEL_VERSIONS, MAIN_TIER, DATABASE_URL,
 * LOG_LEVEL, ...) are defined in config.ts. Beyond loopback SHARD_AUTH_TOKEN is required.
 * DATABASE_URL names the Postgres holding the `embeddings` table, the source of record for
 * rebuilds, restart refills and catch-up (without it all three are disabled);
 * CATCH_UP_INTERVAL_MS paces the anti-entropy catch-up (search-cluster/src/shard/catch-up.ts).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ClusterError } from '../errors.ts';
import { useNativeAddon } from '../faiss/load-native.ts';
import { PostgresVectorSource } from '../rebuild/postgres-vector-source.ts';
import type { VectorSource } from '../rebuild/vector-source.ts';
import { loadOrExit } from '../runtime/env.ts';
import { createJobMetrics } from '../runtime/job-metrics.ts';
import { drainHttpServer, onShutdownSignals } from '../runtime/lifecycle.ts';
import { componentLogger, createLogger, type Logger } from '../runtime/logger.ts';
import { startCatchUp } from '../shard/catch-up.ts';
import { faissFactory } from '../shard/faiss-factory.ts';
import { Shard } from '../shard/shard.ts';
import { loadShardServerConfig, type ShardServerConfig, shardTierOptions } from './config.ts';
import { type ShardServer, startShardServer } from './server.ts';
import { createShardServerMetrics } from './shard-server-metrics.ts';

export interface RunOptions {
  config: ShardServerConfig;
  log: Logger;
  source?: VectorSource;
  /** The source's newest watermark per model version; with it the shard runs catch-up. */
  latest?: (modelVersion: string) => Promise<bigint>;
}

/** Starts the server, then loads the shard (`/readyz` answers 503 'loading' meanwhile). */
export async function runShardServer({ config, log, source, latest }: RunOptions): Promise<{
  shard: Shard;
  server: ShardServer;
  ready: Promise<void>;
}> {
  useNativeAddon(config.faissAddon);
  const metrics = createShardServerMetrics();
  const jobMetrics = createJobMetrics(metrics.registry);
  const shard = new Shard({
    observer: metrics.shards.observerFor(config.shardId),
    partition: { index: config.shardId, count: config.shardCount },
    modelVersions: config.modelVersions,
    factory: faissFactory,
    dataDir: config.dataDir,
    tiers: shardTierOptions(config),
    log,
    ...(source ? { source } : {}),
  });
  metrics.shards.track(shard);
  if (!source) log.warn('no source of record configured: rebuilds and restart refills are disabled');
  const server = await startShardServer({
    shard,
    port: config.port,
    host: config.host,
    authToken: config.authToken,
    log,
    metrics,
  });
  log.info('listening', { url: server.url });
  const catchUp =
    source && latest && config.catchUpIntervalMs > 0
      ? startCatchUp({
          shard,
          source,
          latest,
          intervalMs: config.catchUpIntervalMs,
          log,
          observer: metrics.shards.catchUpObserverFor(config.shardId),
          // every round counts as a run of the anti-entropy job (pixelfind_job_* on this /metrics)
          onRound: ({ outcome, durationMs }) =>
            jobMetrics.observe('anti-entropy', outcome, durationMs / 1000),
        })
      : null;
  const ready = shard.start().then(async () => {
    await catchUp?.prime();
    catchUp?.start();
  });
  // stopping the server stops the catch-up first (it writes into the shard)
  const close = server.close.bind(server);
  server.close = async () => {
    await catchUp?.stop();
    await close();
  };
  return { shard, server, ready };
}

// run as a program (tsx or node dist/), not when imported by a test
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const config = loadOrExit(() => loadShardServerConfig(process.env));
  const logger = createLogger({ level: config.logLevel });
  const log = componentLogger(logger, 'shard-server', { shard: `${config.shardId}/${config.shardCount}` });
  try {
    // the embeddings table is the source of record: a restarted shard refills from it
    const pool = config.databaseUrl ? new pg.Pool({ connectionString: config.databaseUrl, max: 2 }) : null;
    pool?.on('error', (error) => log.error('pg pool', { error: error.message }));
    const source = pool ? new PostgresVectorSource(pool) : null;
    const { shard, server, ready } = await runShardServer({
      config,
      log,
      ...(source ? { source, latest: (modelVersion: string) => source.latestWatermark(modelVersion) } : {}),
    });
    onShutdownSignals({
      log,
      graceMs: config.shutdownGraceMs,
      stop: async () => {
        // catch-up stops first, then the listener closes and requests in flight finish
        const closed = server.close();
        await drainHttpServer(server.server, config.shutdownGraceMs);
        await closed;
        await shard.close();
        await pool?.end();
      },
    });
    await ready;
  } catch (error) {
    const message =
      error instanceof ClusterError ? `${error.code}: ${error.message}` : (error as Error).message;
    log.error('shard server failed to start', { error: message });
    process.exit(1);
  }
}
