import { Gauge, type Registry } from 'prom-client';
import { nativeCallsInFlight } from '../faiss/faiss-index.ts';
import { metricDefinitions } from '../runtime/metrics.ts';
import type { ModelIndexStats as ModelStats } from './model-index.types.ts';
import type { Shard } from './shard.ts';

/** The tiers a search reads: the hot tier, the main tier, or ('exact') a filtered search over both (filtered-search.ts). */
export type SearchTier = 'hot' | 'main' | 'exact';

/** What a model index reports as it works (its shard and model version are bound already). */
export interface ModelIndexObserver {
  searched(tier: SearchTier, seconds: number): void;
  rebuilt(outcome: 'rebuilt' | 'failed', seconds: number): void;
}

/** What a shard reports; ShardMetrics.observerFor binds it to the shard's number. */
export interface ShardObserver {
  forModel(modelVersion: string): ModelIndexObserver;
}

/** What the catch-up reports after each round: how far the replica is behind the record. */
export interface CatchUpObserver {
  lag(modelVersion: string, seq: bigint): void;
  applied(modelVersion: string, changes: number): void;
  failed(modelVersion: string): void;
}

export interface ShardMetrics {
  /** Reads `shard`'s state (vectors, snapshot age, ...) at every scrape. */
  track(shard: Shard): void;
  /** The observer a Shard takes (`ShardOptions.observer`). */
  observerFor(shardIndex: number): ShardObserver;
  /** The observer the catch-up of `shardIndex` takes. */
  catchUpObserverFor(shardIndex: number): CatchUpObserver;
}

const SEARCH_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const REBUILD_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600];

/**
 * The `pixelfind_shard_*` series, on the registry of the process holding the shards: the shard
 * server's own, or the API's in single mode (in-process shards). `shard` is the shard's number;
 * replicas of one shard are told apart by the scrape target (`instance`).
 */
export function registerShardMetrics(registry: Registry): ShardMetrics {
  const shards = new Set<Shard>();
  const each = (read: (shard: Shard) => void) => {
    for (const shard of shards) read(shard);
  };
  const stateGauge = (
    name: string,
    help: string,
    labelNames: readonly string[],
    read: (set: (labels: Record<string, string>, value: number) => void, shard: Shard) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        each((shard) => read((labels, value) => this.set(labels, value), shard));
      },
    });
  const modelsOf = (shard: Shard) => shard.stats().modelVersions;

  const labelsOf = (shard: Shard, modelVersion: string) => ({
    shard: String(shard.partition.index),
    model_version: modelVersion,
  });
  /** A gauge by shard and model version, `value` read from each model version's stats. */
  const modelGauge = (name: string, help: string, value: (m: ModelStats) => number) =>
    stateGauge(name, help, ['shard', 'model_version'], (set, shard) => {
      for (const m of modelsOf(shard)) set(labelsOf(shard, m.modelVersion), value(m));
    });
  /** A gauge by shard, model version and tier, both tiers' values read from the stats. */
  const tierGauge = (name: string, help: string, value: (m: ModelStats) => { hot: number; main: number }) =>
    stateGauge(name, help, ['shard', 'model_version', 'tier'], (set, shard) => {
      for (const m of modelsOf(shard)) {
        const labels = labelsOf(shard, m.modelVersion);
        const { hot, main } = value(m);
        set({ ...labels, tier: 'hot' }, hot);
        set({ ...labels, tier: 'main' }, main);
      }
    });

  tierGauge(
    'pixelfind_shard_vectors',
    'Live vectors by shard, model version and tier (hot: live writes; main: batch-built, tombstones excluded).',
    (m) => ({ hot: m.hot.vectors, main: m.main?.live ?? 0 }),
  );
  modelGauge(
    'pixelfind_shard_tombstones',
    'Deleted or replaced vectors still inside the main tier, by shard and model version (a rebuild clears them).',
    (m) => m.main?.tombstones ?? 0,
  );
  tierGauge(
    'pixelfind_shard_memory_bytes',
    'Estimated resident bytes of the FAISS indexes, by shard, model version and tier.',
    (m) => ({ hot: m.hot.memoryBytes, main: m.main?.memoryBytes ?? 0 }),
  );
  modelGauge(
    'pixelfind_shard_ready',
    '1 when the model version serves on this shard, 0 while it loads (or after a failed load, retrying).',
    (m) => (m.state === 'ready' ? 1 : 0),
  );
  stateGauge(
    'pixelfind_shard_snapshot_age_seconds',
    'Age of the serving main tier (when its snapshot was built), by shard and model version; absent without a main tier.',
    ['shard', 'model_version'],
    (set, shard) => {
      const now = Date.now();
      for (const { modelVersion, builtAt } of shard.mainTierAges()) {
        set(labelsOf(shard, modelVersion), (now - builtAt) / 1000);
      }
    },
  );
  modelGauge(
    'pixelfind_shard_rebuilding',
    '1 while a main-tier rebuild of the model version runs on this shard.',
    (m) => (m.rebuilding ? 1 : 0),
  );
  modelGauge(
    'pixelfind_shard_pending_writes',
    'Writes (upserts, deletes, swaps) queued behind the one running, by shard and model version.',
    (m) => m.pendingWrites,
  );
  new Gauge({
    name: 'pixelfind_shard_native_calls_in_flight',
    help: 'FAISS calls started and not finished in this process, by operation; above UV_THREADPOOL_SIZE (default 4) they queue on the libuv pool.',
    labelNames: ['op'] as const,
    registers: [registry],
    collect() {
      for (const [op, n] of Object.entries(nativeCallsInFlight())) this.set({ op }, n);
    },
  });

  const define = metricDefinitions(registry);
  const search = define.histogram(
    'pixelfind_shard_search_seconds',
    'Native search time of one tier for one request, by shard, model version and tier (hot, main, exact).',
    ['shard', 'model_version', 'tier'],
    SEARCH_BUCKETS,
  );
  const rebuild = define.histogram(
    'pixelfind_shard_rebuild_duration_seconds',
    'Main-tier rebuilds by shard, model version and outcome (rebuilt, failed): read, build, snapshot and swap.',
    ['shard', 'model_version', 'outcome'],
    REBUILD_BUCKETS,
  );
  const lag = define.gauge(
    'pixelfind_shard_replica_lag_seq',
    'Changes of record (embeddings seq) this replica has not checked yet, by shard and model version, as of its last catch-up round.',
    ['shard', 'model_version'],
  );
  const caughtUp = define.counter(
    'pixelfind_shard_catch_up_changes_total',
    'Writes this replica had missed and applied from the record, by shard and model version.',
    ['shard', 'model_version'],
  );
  const catchUpFailures = define.counter(
    'pixelfind_shard_catch_up_failures_total',
    'Catch-up rounds that failed (source unreachable, shard write refused), by shard and model version.',
    ['shard', 'model_version'],
  );

  return {
    track(shard) {
      shards.add(shard);
    },
    observerFor(shardIndex) {
      const shard = String(shardIndex);
      return {
        forModel(modelVersion) {
          return {
            searched: (tier, seconds) =>
              search.observe({ shard, model_version: modelVersion, tier }, seconds),
            rebuilt: (outcome, seconds) =>
              rebuild.observe({ shard, model_version: modelVersion, outcome }, seconds),
          };
        },
      };
    },
    catchUpObserverFor(shardIndex) {
      const shard = String(shardIndex);
      return {
        lag: (modelVersion, seq) =>
          lag.set({ shard, model_version: modelVersion }, Number(seq > 0n ? seq : 0n)),
        applied: (modelVersion, changes) => caughtUp.inc({ shard, model_version: modelVersion }, changes),
        failed: (modelVersion) => catchUpFailures.inc({ shard, model_version: modelVersion }),
      };
    },
  };
}
