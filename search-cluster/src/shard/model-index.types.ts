import type { NprobeCalibration } from '../rebuild/calibrate-nprobe.ts';
import type { VectorSource } from '../rebuild/vector-source.ts';
import type { MainTierKind } from './main-tier.ts';
import type { Logger, TierOptions } from './options.ts';
import type { Partition, VectorPlacement } from './partition.ts';
import type { ModelIndexObserver } from './shard-metrics.ts';
import type { VectorIndexFactory } from './vector-index.ts';

/** The shapes of one model version on one shard (model-index.ts): its config, outcomes and stats. */

export interface ModelIndexConfig {
  modelVersion: string;
  dimension: number;
  partition: Partition;
  /** Set when shards are partitioned by vector: rebuilds and refills keep the records it places here. */
  placement?: VectorPlacement;
  factory: VectorIndexFactory;
  tiers: TierOptions;
  log: Logger;
  /** Vectors of record; without one the shard cannot rebuild or refill after a restart. */
  source?: VectorSource;
  /** Where snapshots live; without one nothing survives a restart. */
  dataDir?: string;
  /** Told each tier search's and rebuild's duration. Default none. */
  observer?: ModelIndexObserver;
}

export interface SearchOptions {
  nprobe?: number;
  efSearch?: number;
  allowedIds?: BigInt64Array;
}

export type ModelIndexState = 'loading' | 'ready' | 'closed';

export interface RebuildOutcome {
  outcome: 'rebuilt';
  modelVersion: string;
  /** Source watermark the new main tier reflects. */
  watermark: string;
  kind: MainTierKind | 'empty';
  vectors: number;
  /** Source records skipped for a wrong length or non-finite values. */
  skipped: number;
  /** Hot-tier entries the new main tier took over. */
  movedFromHot: number;
  /** Snapshot directory, or null when none was written (no data dir, or the write failed). */
  snapshot: string | null;
  durationMs: number;
}

export interface ModelIndexStats {
  modelVersion: string;
  dimension: number;
  state: ModelIndexState;
  hot: { vectors: number; memoryBytes: number };
  main: {
    kind: MainTierKind;
    factory: string;
    vectors: number;
    live: number;
    tombstones: number;
    memoryBytes: number;
    /** IVF lists a search probes when it names none (IVF-PQ tiers; null otherwise). */
    nprobe: number | null;
    /** How the build chose `nprobe` on the tier's own rows (rebuild/calibrate-nprobe.ts); null: the rule. */
    nprobeCalibration: NprobeCalibration | null;
    watermark: string;
  } | null;
  rebuilding: boolean;
  pendingWrites: number;
  lastRebuild: RebuildOutcome | null;
  lastError: { code: string; message: string; at: string } | null;
}
