import type { MainTierKind } from '../../search-cluster/src/shard/main-tier.ts';
import type { LoadSummary, MachineFacts } from '../support/machine.ts';
import type { Settings } from './settings.ts';

/**
 * one: a single shard; unscaled: S shards, parameters sent unchanged; auto: S shards, the router
 * scales them; failover: auto's shards, 2 replicas each, one of them down; clustered: S shards
 * partitioned by k-means cluster, the router probing the nearest (router/cluster-search.ts);
 * clustered-whole: clustered's shards with `scaleSearchParams: false` (every probed shard gets the
 * whole parameters, the previous rule); clustered-failover: clustered's shards, 2 replicas each,
 * one of them down.
 */
export type RouterKind =
  | 'one'
  | 'unscaled'
  | 'auto'
  | 'failover'
  | 'clustered'
  | 'clustered-whole'
  | 'clustered-failover';
export const isFailover = (kind: RouterKind) => kind === 'failover' || kind === 'clustered-failover';

export interface Row {
  tier: MainTierKind;
  shards: number;
  router: RouterKind;
  /** What the search asked for: 'default' (shard defaults) or the per-query override. */
  params: string;
  inflight: number;
  recall: number;
  qps: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU of the whole process (main thread + libuv pool + OpenMP) per query: the work done. */
  cpuMsPerQuery: number;
  partial: number;
  /** Mean shards that answered a query (clustered routers search only the nearest). */
  shardsPerQuery: number;
  /** Mean time per query against the 1-shard row it is compared with (same whole params), minus 1. */
  overheadPct?: number;
  /** CPU per query against the same 1-shard row, minus 1: the target. */
  cpuOverheadPct?: number;
  /** The 1-shard row's params this row is compared with. */
  versus?: string;
  /** Clustered routers: the probe audit after the run (the map slack at its first search and after the run). */
  probeAudit?: { builtSlack: number; slack: number; audited: number; missed: number };
  load1: number;
}

export interface BuildRow {
  tier: MainTierKind;
  shards: number;
  router: RouterKind;
  factory: string;
  seconds: number;
  vectorsPerShard: number[];
  /** clustered: building the partition map (k-means over the sample, calibration) at start-up, s. */
  mapSeconds?: number;
}

/** One run, measured now or read back from router.json by --render. */
export interface RouterRun {
  command: string;
  date: string;
  machine: MachineFacts;
  avx2: boolean;
  load: LoadSummary;
  settings: Settings;
  rows: Row[];
  builds: BuildRow[];
}
