import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { nativeCallsInFlight } from '../faiss/faiss-index.ts';
import type { Shard } from './shard.ts';

/** The tiers a search reads: the hot tier, the main tier, or an exact scan of a short allow-list. */
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

  stateGauge(
    'pixelfind_shard_vectors',
    'Live vectors by shard, model version and tier (hot: live writes; main: batch-built, tombstones excluded).',
    ['shard', 'model_version', 'tier'],
    (set, shard) => {
      for (const m of modelsOf(shard)) {
        const labels = { shard: String(shard.partition.index), model_version: m.modelVersion };
        set({ ...labels, tier: 'hot' }, m.hot.vectors);
        set({ ...labels, tier: 'main' }, m.main?.live ?? 0);
      }
    },
  );
  stateGauge(
    'pixelfind_shard_tombstones',
    'Deleted or replaced vectors still inside the main tier, by shard and model version (a rebuild clears them).',
    ['shard', 'model_version'],
    (set, shard) => {
      for (const m of modelsOf(shard))
        set({ shard: String(shard.partition.index), model_version: m.modelVersion }, m.main?.tombstones ?? 0);
    },
  );
  stateGauge(
    'pixelfind_shard_memory_bytes',
    'Estimated resident bytes of the FAISS indexes, by shard, model version and tier.',
    ['shard', 'model_version', 'tier'],
    (set, shard) => {
      for (const m of modelsOf(shard)) {
        const labels = { shard: String(shard.partition.index), model_version: m.modelVersion };
        set({ ...labels, tier: 'hot' }, m.hot.memoryBytes);
        set({ ...labels, tier: 'main' }, m.main?.memoryBytes ?? 0);
      }
    },
  );
  stateGauge(
    'pixelfind_shard_ready',
    '1 when the model version serves on this shard, 0 while it loads (or after a failed load, retrying).',
    ['shard', 'model_version'],
    (set, shard) => {
      for (const m of modelsOf(shard))
        set(
          { shard: String(shard.partition.index), model_version: m.modelVersion },
          m.state === 'ready' ? 1 : 0,
        );
    },
  );
  stateGauge(
    'pixelfind_shard_snapshot_age_seconds',
    'Age of the serving main tier (when its snapshot was built), by shard and model version; absent without a main tier.',
    ['shard', 'model_version'],
    (set, shard) => {
      const now = Date.now();
      for (const { modelVersion, builtAt } of shard.mainTierAges()) {
        set({ shard: String(shard.partition.index), model_version: modelVersion }, (now - builtAt) / 1000);
      }
    },
  );
  stateGauge(
    'pixelfind_shard_rebuilding',
    '1 while a main-tier rebuild of the model version runs on this shard.',
    ['shard', 'model_version'],
    (set, shard) => {
      for (const m of modelsOf(shard))
        set({ shard: String(shard.partition.index), model_version: m.modelVersion }, m.rebuilding ? 1 : 0);
    },
  );
  stateGauge(
    'pixelfind_shard_pending_writes',
    'Writes (upserts, deletes, swaps) queued behind the one running, by shard and model version.',
    ['shard', 'model_version'],
    (set, shard) => {
      for (const m of modelsOf(shard))
        set({ shard: String(shard.partition.index), model_version: m.modelVersion }, m.pendingWrites);
    },
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

  const search = new Histogram({
    name: 'pixelfind_shard_search_seconds',
    help: 'Native search time of one tier for one request, by shard, model version and tier (hot, main, exact).',
    labelNames: ['shard', 'model_version', 'tier'] as const,
    buckets: SEARCH_BUCKETS,
    registers: [registry],
  });
  const rebuild = new Histogram({
    name: 'pixelfind_shard_rebuild_duration_seconds',
    help: 'Main-tier rebuilds by shard, model version and outcome (rebuilt, failed): read, build, snapshot and swap.',
    labelNames: ['shard', 'model_version', 'outcome'] as const,
    buckets: REBUILD_BUCKETS,
    registers: [registry],
  });
  const lag = new Gauge({
    name: 'pixelfind_shard_replica_lag_seq',
    help: 'Changes of record (embeddings seq) this replica has not checked yet, by shard and model version, as of its last catch-up round.',
    labelNames: ['shard', 'model_version'] as const,
    registers: [registry],
  });
  const caughtUp = new Counter({
    name: 'pixelfind_shard_catch_up_changes_total',
    help: 'Writes this replica had missed and applied from the record, by shard and model version.',
    labelNames: ['shard', 'model_version'] as const,
    registers: [registry],
  });
  const catchUpFailures = new Counter({
    name: 'pixelfind_shard_catch_up_failures_total',
    help: 'Catch-up rounds that failed (source unreachable, shard write refused), by shard and model version.',
    labelNames: ['shard', 'model_version'] as const,
    registers: [registry],
  });

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
