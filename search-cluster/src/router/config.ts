import { join } from 'node:path';
import { ClusterError } from '../errors.ts';
import type { VectorSource } from '../rebuild/vector-source.ts';
import { faissFactory } from '../shard/faiss-factory.ts';
import { DEFAULT_TIER_OPTIONS, type Logger, silentLogger, type TierOptions } from '../shard/options.ts';
import { type ModelVersionSpec, Shard } from '../shard/shard.ts';
import type { ShardMetrics } from '../shard/shard-metrics.ts';
import type { VectorIndexFactory } from '../shard/vector-index.ts';
import {
  type ClusterPartitioning,
  type ClusterPlacement,
  openClusterPlacement,
} from './cluster-placement.ts';
import { LocalReplica, RemoteReplica, type ShardReplica } from './replica.ts';
import { ClusterRouter, type RouterOptions, type ShardRouter } from './router.ts';
import { shardRescoreFactor } from './shard-params.ts';

export type { ClusterPartitioning } from './cluster-placement.ts';

/** How vectors are spread over shards. */
export interface PartitioningConfig {
  /**
   * 'hash' (default): an id's shard is `shardOf(id)` and every search visits every shard.
   * `{ kind: 'cluster' }`: a vector's shard owns its nearest k-means centroid (a partition map built
   * from a sample of the source when the shards start, persisted under dataDir) and searches visit
   * the nearest shards only (cluster-search.ts). In-process shards only; remote shard servers
   * refuse it (UNSUPPORTED).
   */
  partitioning?: 'hash' | ClusterPartitioning;
}

/** Shards in this process (single-node mode). */
export interface InProcessRouterConfig extends RouterOptions, PartitioningConfig {
  mode: 'in-process';
  /** Number of shards. Default 1. */
  shards?: number;
  modelVersions: ModelVersionSpec[];
  /** Vectors of record for rebuilds and restarts (Postgres `embeddings` in production). */
  source?: VectorSource;
  /** Snapshots go to <dataDir>/shard-<i>-of-<n>/. Default: none (nothing survives a restart). */
  dataDir?: string;
  tiers?: Partial<TierOptions>;
  log?: Logger;
  /** Index implementation. Default: FAISS through the native addon. */
  factory?: VectorIndexFactory;
  /** The `pixelfind_shard_*` series of these shards go here (the API's registry). Default: none. */
  metrics?: ShardMetrics;
}

/** Shard server replicas over HTTP: `replicas[s]` lists the base URLs of shard s. */
export interface RemoteRouterConfig extends RouterOptions, PartitioningConfig {
  mode: 'remote';
  replicas: string[][];
  /** The shard servers' SHARD_AUTH_TOKEN, sent on every call. Default: none. */
  authToken?: string | null;
}

export type RouterConfig = InProcessRouterConfig | RemoteRouterConfig;

/**
 * Reads the SHARDS setting: a shard count ("4": that many in-process shards) or shard server URLs,
 * shards separated by ",", replicas of one shard by "|":
 *   "http://10.0.0.1:7001|http://10.0.0.2:7001,http://10.0.0.3:7001"  -> shard 0 has two replicas.
 */
export function parseShardsSetting(
  value: string | undefined,
): { mode: 'in-process'; shards: number } | RemoteRouterConfig {
  const text = (value ?? '').trim();
  if (text === '') return { mode: 'in-process', shards: 1 };
  if (/^[0-9]+$/.test(text)) {
    const shards = Number(text);
    if (shards < 1 || shards > 1024) throw new Error(`SHARDS=${text}: expected between 1 and 1024 shards`);
    return { mode: 'in-process', shards };
  }
  const replicas = text.split(',').map((group, s) => {
    const urls = group
      .split('|')
      .map((u) => u.trim())
      .filter(Boolean);
    if (urls.length === 0) throw new Error(`SHARDS: shard ${s} lists no replica URL`);
    for (const url of urls) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new Error(`SHARDS: "${url}" is not a URL`);
      }
      if (parsed.protocol !== 'http:') throw new Error(`SHARDS: "${url}" must be an http:// URL`);
    }
    return urls;
  });
  return { mode: 'remote', replicas };
}

/**
 * Builds the router the API uses. In-process shards are started (snapshot load, refill or rebuild)
 * before this resolves; a shard that fails to load keeps retrying and makes answers partial.
 */
export async function createRouter(config: RouterConfig): Promise<ShardRouter> {
  const clustered = typeof config.partitioning === 'object' ? config.partitioning : undefined;
  if (config.mode === 'remote') {
    if (clustered) {
      // a shard server owns a partition by id (SHARD_ID / SHARD_COUNT, checked on every write and
      // rebuild); it has no partition map to place vectors by
      throw new ClusterError(
        'UNSUPPORTED',
        "Cluster partitioning is supported for in-process shards only; remote shard servers partition by id (partitioning: 'hash')",
      );
    }
    const replicas: ShardReplica[][] = config.replicas.map((urls) =>
      urls.map((url) => new RemoteReplica(url, { authToken: config.authToken ?? null })),
    );
    return new ClusterRouter(replicas, config);
  }
  const started = await startInProcessShards(config);
  return new ClusterRouter(
    started.shards.map((shard) => [new LocalReplica(shard)]),
    started.routerOptions,
  );
}

/** What createRouter starts in this process: the shards, and the options of their router. */
export interface InProcessShards {
  shards: Shard[];
  /** Set with `partitioning: { kind: 'cluster' }`: the maps the shards and the router place by. */
  placement?: ClusterPlacement;
  routerOptions: RouterOptions & { placement?: ClusterPlacement };
}

/**
 * Starts the shards of an in-process router (snapshot load, refill or rebuild; with cluster
 * partitioning the partition maps first). createRouter puts each behind one LocalReplica; tests and
 * benchmarks that need the shards themselves (more replicas, a replica down) call this.
 */
export async function startInProcessShards(config: InProcessRouterConfig): Promise<InProcessShards> {
  const clustered = typeof config.partitioning === 'object' ? config.partitioning : undefined;
  const count = config.shards ?? 1;
  if (clustered && count < 2) {
    throw new ClusterError('UNSUPPORTED', 'Cluster partitioning needs at least two shards');
  }
  const placement = clustered
    ? await openClusterPlacement({
        partitioning: clustered,
        modelVersions: config.modelVersions,
        shardCount: count,
        source: config.source,
        dataDir: config.dataDir,
        factory: config.factory ?? faissFactory,
      })
    : undefined;
  const tiers = inProcessTiers(config, count);
  const shards = Array.from(
    { length: count },
    (_, index) =>
      new Shard({
        partition: { index, count },
        ...(placement ? { placement } : {}),
        modelVersions: config.modelVersions,
        factory: config.factory ?? faissFactory,
        log: config.log ?? silentLogger,
        ...(config.source ? { source: config.source } : {}),
        ...(config.dataDir ? { dataDir: join(config.dataDir, `shard-${index}-of-${count}`) } : {}),
        ...(tiers ? { tiers } : {}),
        ...(config.metrics ? { observer: config.metrics.observerFor(index) } : {}),
      }),
  );
  for (const shard of shards) config.metrics?.track(shard);
  await Promise.all(shards.map((shard) => shard.start()));
  return {
    shards,
    ...(placement ? { placement } : {}),
    routerOptions: {
      ...config,
      wholeEfSearch: config.wholeEfSearch ?? config.tiers?.efSearch ?? DEFAULT_TIER_OPTIONS.efSearch,
      ...(placement ? { placement } : {}),
    },
  };
}

/**
 * The tier options each in-process shard gets: `config.tiers`, with rescoreFactor divided by the
 * shard count when the router scales search parameters (shard-params.ts) over hash-partitioned
 * shards. rescoreFactor is fixed
 * when a main tier is built, so a tier loaded from an older snapshot keeps its own until a rebuild.
 */
export function inProcessTiers(
  config: Pick<InProcessRouterConfig, 'tiers' | 'scaleSearchParams' | 'partitioning'>,
  count: number,
): Partial<TierOptions> | undefined {
  // cluster-partitioned: a probed shard holds most of the neighbours and re-scores them all
  const clustered = typeof config.partitioning === 'object';
  if (config.scaleSearchParams === false || count <= 1 || clustered) return config.tiers;
  const whole = config.tiers?.rescoreFactor ?? DEFAULT_TIER_OPTIONS.rescoreFactor;
  return { ...config.tiers, rescoreFactor: shardRescoreFactor(whole, count) };
}
