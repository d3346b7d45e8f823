import { parseArgs } from 'node:util';
import type { ClusterPartitioning } from '../../search-cluster/src/router/cluster-placement.ts';
import type { MainTierKind } from '../../search-cluster/src/shard/main-tier.ts';
import { DEFAULT_TIER_OPTIONS } from '../../search-cluster/src/shard/options.ts';
import {
  mainTierList,
  numberList,
  positiveInt,
  syntheticDataFlags,
  syntheticDataSettings,
} from '../support/flags.ts';

/** The model version every router of the bench serves. */
export const MODEL = 'bench-router';

/** The shard defaults a run used (the stored run's when rendering). */
export interface ShardDefaults {
  efSearch: number;
  nprobe: number;
  rescoreFactor: number;
  hnswM: number;
}

/** What a run measured with: stored in router.json, read back by --render. */
export interface Settings {
  n: number;
  queries: number;
  dim: number;
  k: number;
  seed: number;
  clusters: number;
  families: number | null;
  shards: number;
  tiers: MainTierKind[];
  inflight: number[];
  repeats: number;
  targetPct: number;
  autoEf: number[];
  autoNprobe: number[];
  /** More whole efSearch / nprobe values one shard is swept over: its recall-CPU curve (equal-recall baseline). */
  oneEf: number[];
  oneNprobe: number[];
  /** IVF-PQ: more one-shard builds at these rescoreFactors, swept too (the curve past the default's recall). */
  oneRescore: number[];
  shardDefaults: ShardDefaults;
}

/** The command line: the settings, and what only a measured run uses. */
export interface RouterFlags {
  settings: Settings;
  /** Hand-set efSearch values the unscaled router is swept over. */
  hnswEf: number[];
  clustered: ClusterPartitioning;
  /** Re-render router.md from this saved router.json instead of measuring. */
  render: string | undefined;
  /** Results are bench/results/<name>.md and .json. */
  name: string;
}

export function routerFlags(): RouterFlags {
  const { values: flags } = parseArgs({
    options: {
      ...syntheticDataFlags({ n: '200000', dim: '128' }),
      shards: { type: 'string', default: '4' },
      tiers: { type: 'string', default: 'flat,hnsw,ivfpq' },
      inflight: { type: 'string', default: '1,2' },
      'hnsw-ef': { type: 'string', default: '16,24,32,48' },
      /** Whole-collection efSearch / nprobe values the automatic rows are also compared at. */
      'auto-ef': { type: 'string', default: '32,128' },
      'auto-nprobe': { type: 'string', default: '16,64' },
      /** More settings one shard alone is swept over, for the equal-recall comparison. */
      'one-ef': { type: 'string', default: '16,24,48,96,192' },
      'one-nprobe': { type: 'string', default: '8,12,24,32,48,96,128' },
      'one-rescore': { type: 'string', default: '16' },
      name: { type: 'string', default: 'router' },
      repeats: { type: 'string', default: '3' },
      target: { type: 'string', default: '15' },
      /** Draw the cluster centres around this many family centres (two-level data); default none. */
      families: { type: 'string' },
      /** Vectors of record sampled for the clustered router's partition map. */
      'map-sample': { type: 'string', default: '20000' },
      /** Re-render router.md from a saved router.json instead of measuring. */
      render: { type: 'string' },
    },
  });

  const positive = (name: keyof typeof flags): number => positiveInt(name, flags[name]);
  const list = (name: keyof typeof flags): number[] => numberList(flags[name]);

  const data = syntheticDataSettings(flags);
  const shards = positive('shards');
  const clusters = data.clusters ?? Math.max(100, Math.round(data.n / 20));
  const families = flags.families === undefined ? null : positive('families');
  const tiers = mainTierList(flags.tiers);
  const inflight = list('inflight');
  const hnswEf = list('hnsw-ef');
  const autoEf = list('auto-ef');
  const autoNprobe = list('auto-nprobe');
  const oneEf = list('one-ef');
  const oneNprobe = list('one-nprobe');
  const oneRescore = flags['one-rescore'] === '' ? [] : list('one-rescore');
  const repeats = positive('repeats');
  const targetPct = Number(flags.target);
  const shardDefaults = {
    efSearch: DEFAULT_TIER_OPTIONS.efSearch,
    nprobe: DEFAULT_TIER_OPTIONS.nprobe,
    rescoreFactor: DEFAULT_TIER_OPTIONS.rescoreFactor,
    hnswM: DEFAULT_TIER_OPTIONS.hnswM,
  };
  const clustered: ClusterPartitioning = { kind: 'cluster', sampleSize: positive('map-sample') };
  return {
    settings: {
      n: data.n,
      queries: data.queries,
      dim: data.dim,
      k: data.k,
      seed: data.seed,
      clusters,
      families,
      shards,
      tiers,
      inflight,
      repeats,
      targetPct,
      autoEf,
      autoNprobe,
      oneEf,
      oneNprobe,
      oneRescore,
      shardDefaults,
    },
    hnswEf,
    clustered,
    render: flags.render,
    name: flags.name,
  };
}
