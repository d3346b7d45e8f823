import path from 'node:path';
import {
  createRouter,
  type Hit,
  type Logger,
  type ModelVersionSpec,
  PostgresVectorSource,
  parseShardsSetting,
  type RebuildOptions,
  type RebuildReport,
  type RouterHealth,
  type RouterStats,
  type ShardMetrics,
  type ShardRouter,
  type SqlClient,
  type TierOptions,
} from '../../../search-cluster/src/index.ts';
import type { VectorWriter } from '../indexing/indexing.ports.ts';
import type { VectorSearcher } from '../search/search.ports.ts';
import { clusterErrorToAppError } from './cluster-errors.ts';

export type { RebuildOptions, RebuildReport, RouterHealth as ClusterHealth, RouterStats as ClusterStats };

export interface ClusterSearchOptions {
  /** Restrict results to these ids (a label filter). */
  allowedIds?: readonly bigint[];
  /** IVF lists probed on every shard; the shards' default when absent (benches sweep it). */
  nprobe?: number;
  /** Per-shard deadline in ms for this search. Default: the client's `deadlineMs`. */
  deadlineMs?: number;
  /** Cancels the search (the client went away). */
  signal?: AbortSignal;
}

/**
 * The search cluster as the API sees it: the only module that knows the shard router. Every
 * method throws the API's coded errors (`clusterErrorToAppError`): no shard in time is a
 * retryable SERVICE_UNAVAILABLE, a request the shards refuse is BAD_USER_INPUT.
 */
export interface ClusterClient extends VectorSearcher, VectorWriter {
  readonly shardCount: number;
  /** Global top k over every shard; `partial` when a shard missed its deadline. */
  search(
    modelVersion: string,
    query: Float32Array,
    k: number,
    options?: ClusterSearchOptions,
  ): Promise<{ hits: Hit[]; partial: boolean }>;
  /** Inserts or replaces vectors (idempotent by id) on every replica of the owning shards. */
  upsert(modelVersion: string, items: { id: bigint; vector: Float32Array }[]): Promise<void>;
  /** Deletes ids from every replica of the owning shards. */
  remove(modelVersion: string, ids: bigint[]): Promise<void>;
  /**
   * Rebuilds every shard's main tier from the vectors of record, one replica at a time (a replica
   * whose shard has no other serving replica is skipped); `only` picks replicas.
   */
  rebuild(modelVersion: string, options?: RebuildOptions): Promise<RebuildReport[]>;
  /** Serves a further model version on every replica (blue-green). */
  addModelVersion(spec: ModelVersionSpec): Promise<void>;
  /** Stops serving a retired model version on every replica: its memory and snapshots are freed. */
  dropModelVersion(name: string): Promise<void>;
  health(): Promise<RouterHealth>;
  stats(): Promise<RouterStats>;
  close(): Promise<void>;
}

export interface ClusterClientOptions {
  /** The SHARDS setting: a count of in-process shards, or shard server URLs (see parseShardsSetting). */
  shards: string;
  /** Per-shard search deadline in ms. */
  deadlineMs: number;
  /** Model versions in-process shards serve from the start. */
  modelVersions: ModelVersionSpec[];
  /** Vectors of record for in-process shards: the API's database (`embeddings`). */
  db: SqlClient;
  /** In-process shard snapshots go under `<dataDir>/shards`. */
  dataDir: string;
  /** Shared secret sent to remote shard servers (SHARD_AUTH_TOKEN); unset: none. */
  authToken?: string | null;
  /** Where in-process shards log (loads, rebuilds). Default: silent. */
  log?: Logger;
  /**
   * In-process shards start a rebuild themselves when the hot tier or tombstones pass their
   * thresholds. False leaves it to the maintenance job (api/src/jobs/rebuild.service.ts), which
   * rebuilds one replica at a time. Default true.
   */
  selfRebuild?: boolean;
  /** Where in-process shards report their metrics. Default: nowhere. */
  shardMetrics?: ShardMetrics;
  /** In-process shards' tier options (benches force a main tier). Default: the shard defaults. */
  tiers?: Partial<TierOptions>;
}

/** Wraps a router; in-process shards are loaded (snapshot, refill or rebuild) before this resolves. */
export async function createClusterClient(options: ClusterClientOptions): Promise<ClusterClient> {
  const setting = parseShardsSetting(options.shards);
  const router =
    setting.mode === 'remote'
      ? await createRouter({
          ...setting,
          deadlineMs: options.deadlineMs,
          authToken: options.authToken ?? undefined,
        })
      : await createRouter({
          mode: 'in-process',
          shards: setting.shards,
          modelVersions: options.modelVersions,
          source: new PostgresVectorSource(options.db),
          dataDir: path.join(options.dataDir, 'shards'),
          deadlineMs: options.deadlineMs,
          ...(options.log ? { log: options.log } : {}),
          tiers: {
            ...options.tiers,
            ...(options.selfRebuild === false
              ? { autoRebuildHotVectors: 0, autoRebuildTombstoneRatio: 0 }
              : {}),
          },
          ...(options.shardMetrics ? { metrics: options.shardMetrics } : {}),
        });
  return clusterClientOver(router);
}

/** The client over a router made elsewhere (tests, benches). */
export function clusterClientOver(router: ShardRouter): ClusterClient {
  const coded = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      throw clusterErrorToAppError(error);
    }
  };
  return {
    shardCount: router.shardCount,
    search: (modelVersion, query, k, options) =>
      coded(async () => {
        const { hits, partial } = await router.search(modelVersion, query, k, options);
        return { hits, partial };
      }),
    upsert: (modelVersion, items) =>
      coded(async () => {
        await router.upsert(modelVersion, items);
      }),
    remove: (modelVersion, ids) =>
      coded(async () => {
        await router.delete(modelVersion, ids);
      }),
    rebuild: (modelVersion, options) => coded(() => router.rebuild(modelVersion, options)),
    addModelVersion: ({ name, dimension }) => coded(() => router.addModelVersion(name, dimension)),
    dropModelVersion: (name) => coded(() => router.dropModelVersion(name)),
    health: () => coded(() => router.health()),
    stats: () => coded(() => router.stats()),
    close: () => router.close(),
  };
}
