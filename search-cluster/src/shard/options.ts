import type { MainTierChoiceOptions } from '../rebuild/build-main.ts';

/** How a shard's tiers are built and searched. Every field has a default (shown). */
export interface TierOptions extends MainTierChoiceOptions {
  /** HNSW efSearch when a query names none. Default 64. */
  efSearch: number;
  /** IVF nprobe floor when a query names none: the default is 1/8 of the tier's lists (at most 256) if more, lowered to what the build measured it needs, never below this (main-tier.ts, rebuild/calibrate-nprobe.ts). Default 32. */
  nprobe: number;
  /** IVF-PQ re-scores `k * rescoreFactor` candidates with full-precision vectors. Default 8. */
  rescoreFactor: number;
  /**
   * Re-score and scan the main tier's full-precision vectors from the snapshot's memory-mapped file
   * instead of a copy on the heap. 'auto' (and true) = whenever the shard has a data dir; false =
   * always in memory. Default 'auto'.
   */
  vectorsOnDisk: boolean | 'auto';
  /**
   * Filtered searches with at most this many allowed main-tier vectors score them all exactly;
   * with more, at least this many, from the filter cells nearest the query (filter-plan.ts).
   * Default 4096.
   */
  exactScanMaxIds: number;
  /**
   * Filtered searches with more allowed ids (and under `filterAnnShare`) score this share of the
   * allowed main-tier vectors, at least `exactScanMaxIds`, taken from the filter cells nearest the
   * query. Default 0.5.
   */
  filterScanShare: number;
  /**
   * Filtered searches allowing at least this share of a shard's vectors use the ANN search with an
   * id selector, efSearch and nprobe divided by the share. Default 0.5.
   */
  filterAnnShare: number;
  /** Hot tier FAISS factory; must support remove (Flat does, HNSW does not). Default 'Flat'. */
  hotFactory: string;
  /** Start a rebuild when the hot tier reaches this many vectors (0: never). Default 100_000. */
  autoRebuildHotVectors: number;
  /** Start a rebuild when this share of the main tier is tombstones (0: never). Default 0.1. */
  autoRebuildTombstoneRatio: number;
  /** First delay before retrying a failed start-up load, doubled up to 30 s. Default 1000 ms. */
  loadRetryMs: number;
}

export const DEFAULT_TIER_OPTIONS: TierOptions = {
  mainTier: 'auto',
  flatMaxVectors: 20_000,
  hnswMaxVectors: 300_000,
  hnswM: 32,
  efSearch: 64,
  nprobe: 32,
  rescoreFactor: 8,
  vectorsOnDisk: 'auto',
  exactScanMaxIds: 4096,
  filterScanShare: 0.5,
  filterAnnShare: 0.5,
  hotFactory: 'Flat',
  autoRebuildHotVectors: 100_000,
  autoRebuildTombstoneRatio: 0.1,
  loadRetryMs: 1000,
};

/** What a shard writes log lines to (runtime/logger.ts gives pino-backed ones). */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
