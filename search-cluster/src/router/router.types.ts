import type { RebuildOutcome } from '../shard/model-index.ts';
import type { ShardHealth, ShardStats } from '../shard/shard.ts';
import type { Hit } from '../shard/topk.ts';
import type { ProbeAuditOptions } from './probe-audit.ts';

/** The router's contract: what the API's cluster client calls, and the shapes it gets back. */

export interface RouterSearchOptions {
  /** Restrict results to these ids (a label filter). Each shard receives only the ids it owns. */
  allowedIds?: readonly bigint[] | BigInt64Array;
  /** IVF lists probed on every shard (shard default when absent). */
  nprobe?: number;
  /**
   * HNSW candidate list (shard default when absent) for the whole collection: with several shards
   * the router sends each its share (shard-params.ts) unless `scaleSearchParams` is false.
   */
  efSearch?: number;
  /** Per-shard deadline in ms; a shard that misses it makes the answer partial. Default: router's. */
  deadlineMs?: number;
  /** Cancels the whole search (e.g. the client went away). */
  signal?: AbortSignal;
}

export interface RouterSearchResult {
  /** Global top k, best first, each id once. */
  hits: Hit[];
  /** True when at least one shard did not answer in time (its vectors are missing from hits). */
  partial: boolean;
  shardsAnswered: number;
  shardsTotal: number;
}

export interface RouterBatchSearchResult extends Omit<RouterSearchResult, 'hits'> {
  /** One list per query, in query order. */
  results: Hit[][];
}

export type UpsertItems =
  | readonly { id: bigint; vector: Float32Array }[]
  | { ids: BigInt64Array; vectors: Float32Array };

export interface ReplicaHealth {
  name: string;
  status: 'ok' | 'loading' | 'down' | 'mismatch';
  error?: string;
  health?: ShardHealth;
}

export interface RouterHealth {
  /** ok: every replica serves; degraded: every shard has a serving replica; down: some shard has none. */
  status: 'ok' | 'degraded' | 'down';
  shards: { index: number; serving: number; replicas: ReplicaHealth[] }[];
}

export interface RouterStats {
  shards: { index: number; replicas: { name: string; stats?: ShardStats; error?: string }[] }[];
}

export interface RebuildReport {
  shard: number;
  replica: string;
  outcome?: RebuildOutcome;
  error?: string;
  /** Why this replica was left for a later run (its shard had no other serving replica). */
  skipped?: string;
}

export interface RebuildOptions {
  /** Rebuild only the replicas this accepts (shard index, replica name). Default: every replica. */
  only?: (shard: number, replica: string) => boolean;
  /** Told about each replica as it finishes (progress of a long run). */
  onReport?: (report: RebuildReport) => void;
}

/** What the API uses: the only door into the search cluster. */
export interface ShardRouter {
  readonly shardCount: number;
  /** Inserts or replaces vectors (idempotent by id) on every replica of the owning shards. */
  upsert(modelVersion: string, items: UpsertItems): Promise<{ upserted: number; unchanged: number }>;
  /** Deletes ids from every replica of the owning shards; returns how many were present. */
  delete(modelVersion: string, ids: readonly bigint[] | BigInt64Array): Promise<{ deleted: number }>;
  /** Top k for one query vector over all shards. */
  search(
    modelVersion: string,
    query: Float32Array,
    k: number,
    options?: RouterSearchOptions,
  ): Promise<RouterSearchResult>;
  /** Top k for several query vectors of equal length, one fan-out. */
  searchBatch(
    modelVersion: string,
    queries: readonly Float32Array[],
    k: number,
    options?: RouterSearchOptions,
  ): Promise<RouterBatchSearchResult>;
  /**
   * Rebuilds every replica's main tier from the source of record, one replica at a time; a
   * replica whose shard has other replicas waits until one of them serves (it is skipped).
   */
  rebuild(modelVersion: string, options?: RebuildOptions): Promise<RebuildReport[]>;
  /** Serves a new model version on every replica (blue-green). */
  addModelVersion(name: string, dimension: number): Promise<void>;
  /** Stops serving a retired model version on every replica and frees its memory. */
  dropModelVersion(name: string): Promise<void>;
  health(): Promise<RouterHealth>;
  stats(): Promise<RouterStats>;
  close(): Promise<void>;
}

export interface RouterOptions {
  /** Per-shard search deadline. Default DEFAULT_SHARD_DEADLINE_MS (150 ms). */
  deadlineMs?: number;
  /** Send the hedged request to a second replica after this long without an answer. Default deadline / 3. */
  hedgeAfterMs?: number;
  /** Upsert and delete timeout per replica. Default 10 s. */
  writeTimeoutMs?: number;
  /** Rebuild timeout per replica. Default 1 h. */
  rebuildTimeoutMs?: number;
  /** Health and stats timeout per replica. Default 2 s. */
  probeTimeoutMs?: number;
  /**
   * With several shards, send each an efSearch scaled to its share of the collection on unfiltered
   * searches (shard-params.ts: only a list longer than 64 is cut); in-process shards also get
   * rescoreFactor / shards. false: every
   * shard gets the parameters unchanged. Default true.
   */
  scaleSearchParams?: boolean;
  /**
   * The efSearch of a search of the whole collection when the query names none; the router scales
   * it per shard. Default the shard default (64); in-process routers take `tiers.efSearch`.
   */
  wholeEfSearch?: number;
  /** A failing replica is tried last for this long, doubling per failure up to 30 s. Default 1 s. */
  backoffMs?: number;
  /**
   * Cluster partitioning: the probe rule's check on served queries (probe-audit.ts). The first
   * `first` unfiltered searches of a model version, then one in `every` (0: none after the first),
   * ask every shard and raise the map's slack to what they needed. Default 200, and 128 x shards (at
   * least 500).
   */
  probeAudit?: ProbeAuditOptions;
}
