/**
 * Router fan-out benchmark (issue 14, item 5): "4 shards against 1 at equal recall costs <= +15% CPU
 * per query", with balance (shard sizes within 20%) and availability (replicas) reported.
 *
 *   npm run bench:router                                   # 200,000 x 128-d, 1,000 queries
 *   npm run bench:router -- --n 100000 --dim 512 --tiers hnsw
 *
 * The same seeded synthetic clustered unit vectors go into (a) one in-process shard and (b) four,
 * each through `createRouter({ mode: 'in-process' })` with a `MemoryVectorSource` that is filled
 * after start-up, then `router.rebuild()` builds every shard's main tier (forced to flat, hnsw or
 * ivfpq with `tiers.mainTier`). The same queries then go one call at a time through
 * `router.search(model, q, k)`, with 1 and with 2 calls in flight, against both routers in
 * alternation (so load from other work on a shared machine hits both alike); the fastest of
 * `--repeats` passes is kept. Ground truth is an exact FAISS Flat search over all vectors.
 *
 * Three routers per tier: one shard; four shards with `scaleSearchParams: false` (every shard gets
 * the whole search's parameters: "unscaled"); and four shards as `createRouter` makes them now
 * ("auto": the router scales efSearch per shard and in-process shards get rescoreFactor / shards,
 * search-cluster/src/router/shard-params.ts). The auto rows are compared with one shard at the same
 * whole-collection parameters (`--auto-ef`, `--auto-nprobe`); the unscaled router is also swept over
 * hand-set efSearch values, and a "share of lists" nprobe row shows why nprobe is not scaled. A
 * failover router puts auto's shards behind 2 replicas each, the first one down (availability);
 * shard sizes are reported against the 20% balance target. The verdict is on CPU per query.
 *
 * The clustered router (`createRouter({ partitioning: { kind: 'cluster' } })`) places vectors by
 * k-means cluster and searches only the nearest shards; it is compared with one shard at the same
 * whole parameters, and a clustered-failover router puts its shards behind a down replica too.
 * `--families N` draws the data's cluster centres around N family centres (two-level data, like
 * semantic groups); without it the centres are independent (the earlier runs' data).
 *
 * Default dimension is 128, not CLIP's 512, so the six builds (HNSW over 200k vectors being the
 * longest) finish in a few minutes on 2 cores.
 *
 * Writes bench/results/router.md and bench/results/router.json.
 */
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { FaissIndex, faissBuild, setFaissThreads } from '../search-cluster/src/faiss/faiss-index.ts';
import { recallAtK } from '../search-cluster/src/faiss/synthetic.ts';
import { ivfpqFactory } from '../search-cluster/src/rebuild/build-main.ts';
import { MemoryVectorSource } from '../search-cluster/src/rebuild/vector-source.ts';
import {
  type ClusterPartitioning,
  openClusterPlacement,
} from '../search-cluster/src/router/cluster-placement.ts';
import { createRouter, inProcessTiers } from '../search-cluster/src/router/config.ts';
import { LocalReplica } from '../search-cluster/src/router/replica.ts';
import {
  ClusterRouter,
  type RouterSearchOptions,
  type ShardRouter,
} from '../search-cluster/src/router/router.ts';
import {
  clusterShardParams,
  shardEfSearch,
  shardRescoreFactor,
} from '../search-cluster/src/router/shard-params.ts';
import { downReplica } from '../search-cluster/src/router/test-replicas.ts';
import { faissFactory } from '../search-cluster/src/shard/faiss-factory.ts';
import type { MainTierKind } from '../search-cluster/src/shard/main-tier.ts';
import { DEFAULT_TIER_OPTIONS, silentLogger, type TierOptions } from '../search-cluster/src/shard/options.ts';
import { Shard } from '../search-cluster/src/shard/shard.ts';
import { clusteredData } from './support/data.ts';
import {
  mainTierList,
  numberList,
  positiveInt,
  syntheticDataFlags,
  syntheticDataSettings,
} from './support/flags.ts';
import { commandLine, log, machineFacts, sampleLoad } from './support/machine.ts';
import { table, writeResults } from './support/results.ts';
import { percentile, round } from './support/stats.ts';

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

// `let`: --render takes every setting from the stored run, not from the flags' defaults
let data = syntheticDataSettings(flags);
let { n: N, queries: NQ, dim: DIM, k: K } = data;
let SHARDS = positive('shards');
let CLUSTERS = data.clusters ?? Math.max(100, Math.round(N / 20));
let FAMILIES = flags.families === undefined ? undefined : positive('families');
let TIERS = mainTierList(flags.tiers);
let INFLIGHT = list('inflight');
const HNSW_EF = list('hnsw-ef');
let AUTO_EF = list('auto-ef');
let AUTO_NPROBE = list('auto-nprobe');
let REPEATS = positive('repeats');
let TARGET = Number(flags.target);
/** The shard defaults the run used (the stored run's when rendering). */
let DEFAULTS = {
  efSearch: DEFAULT_TIER_OPTIONS.efSearch,
  nprobe: DEFAULT_TIER_OPTIONS.nprobe,
  rescoreFactor: DEFAULT_TIER_OPTIONS.rescoreFactor,
  hnswM: DEFAULT_TIER_OPTIONS.hnswM,
};
const MODEL = 'bench-router';
const CLUSTERED: ClusterPartitioning = { kind: 'cluster', sampleSize: positive('map-sample') };
let COMMAND = commandLine('bench:router');

/**
 * one: a single shard; unscaled: S shards, parameters sent unchanged; auto: S shards, the router
 * scales them; failover: auto's shards, 2 replicas each, one of them down; clustered: S shards
 * partitioned by k-means cluster, the router probing the nearest (router/cluster-search.ts);
 * clustered-whole: clustered's shards with `scaleSearchParams: false` (every probed shard gets the
 * whole parameters, the previous rule); clustered-failover: clustered's shards, 2 replicas each,
 * one of them down.
 */
type RouterKind =
  | 'one'
  | 'unscaled'
  | 'auto'
  | 'failover'
  | 'clustered'
  | 'clustered-whole'
  | 'clustered-failover';
const isFailover = (kind: RouterKind) => kind === 'failover' || kind === 'clustered-failover';

interface Row {
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
  /** CPU per query against the same 1-shard row, minus 1: the issue's target. */
  cpuOverheadPct?: number;
  /** The 1-shard row's params this row is compared with. */
  versus?: string;
  load1: number;
}

interface BuildRow {
  tier: MainTierKind;
  shards: number;
  router: RouterKind;
  factory: string;
  seconds: number;
  vectorsPerShard: number[];
  /** clustered: building the partition map (k-means over the sample, calibration) at start-up, s. */
  mapSeconds?: number;
}

const rows: Row[] = [];
const builds: BuildRow[] = [];

// ---------------------------------------------------------------- data

const RENDER = flags.render;
let truth: BigInt64Array = new BigInt64Array(0);
let queryList: Float32Array[] = [];
let base: Float32Array = new Float32Array(0);
let ids: BigInt64Array = new BigInt64Array(0);
let load: ReturnType<typeof sampleLoad> | undefined;

async function prepare(): Promise<void> {
  load = sampleLoad();
  log(`${COMMAND}`);
  log(
    `n=${N} dim=${DIM} queries=${NQ} k=${K} clusters=${CLUSTERS} families=${FAMILIES ?? 'none'} shards=1 vs ${SHARDS} faiss=${faissBuild().label}`,
  );
  const set = clusteredData({ ...data, clusters: CLUSTERS, families: FAMILIES });
  ({ base, ids, queryList } = set);
  setFaissThreads(0);
  const exact = FaissIndex.create(DIM, 'Flat');
  await exact.add(base, ids);
  truth = (await exact.search(set.queries, K)).ids;
  exact.close();
  log('data and ground truth ready');
}

// ---------------------------------------------------------------- routers

interface Built {
  router: ShardRouter;
  /** auto only: the same shards behind 2 replicas each, the first one down. */
  failover?: ShardRouter;
  /** clustered only: the same shards and map, every probed shard given the whole parameters. */
  whole?: ShardRouter;
}

/**
 * one / unscaled: `createRouter` (unscaled with `scaleSearchParams: false`). auto: the shards
 * `createRouter` would make (tiers from `inProcessTiers`, so rescoreFactor / shards) behind a
 * ClusterRouter that scales efSearch, plus a failover router over the same shards.
 */
async function buildRouter(tier: MainTierKind, shards: number, kind: RouterKind): Promise<Built> {
  const source = new MemoryVectorSource();
  const tiers: Partial<TierOptions> = {
    mainTier: tier,
    autoRebuildHotVectors: 0,
    autoRebuildTombstoneRatio: 0,
  };
  // a slow pass on a busy machine must not turn into partial answers
  const routerOptions = { deadlineMs: 60_000 };
  let built: Built;
  let mapSeconds: number | undefined;
  if (kind === 'clustered') {
    // createRouter builds the map from a sample of the shards' source before they start; here the
    // map reads a copy of the same vectors, so the shards start empty and build once, in rebuild()
    const mapSource = new MemoryVectorSource();
    mapSource.putMany(MODEL, ids, base);
    const started = performance.now();
    const placement = await openClusterPlacement({
      partitioning: CLUSTERED,
      modelVersions: [{ name: MODEL, dimension: DIM }],
      shardCount: shards,
      source: mapSource,
      dataDir: undefined,
      factory: faissFactory,
    });
    mapSeconds = (performance.now() - started) / 1000;
    // what createRouter makes for `partitioning: CLUSTERED`, with the shards in reach for failover
    const list = Array.from(
      { length: shards },
      (_, index) =>
        new Shard({
          partition: { index, count: shards },
          placement,
          modelVersions: [{ name: MODEL, dimension: DIM }],
          factory: faissFactory,
          log: silentLogger,
          source,
          tiers,
        }),
    );
    await Promise.all(list.map((shard) => shard.start()));
    built = {
      router: new ClusterRouter(
        list.map((shard) => [new LocalReplica(shard)]),
        { ...routerOptions, placement },
      ),
      whole: new ClusterRouter(
        list.map((shard) => [new LocalReplica(shard, false)]),
        { ...routerOptions, placement, scaleSearchParams: false },
      ),
      failover: new ClusterRouter(
        list.map((shard, i) => [downReplica(`down:${i}`), new LocalReplica(shard, false)]),
        { ...routerOptions, placement, backoffMs: 60_000 },
      ),
    };
  } else if (kind === 'auto') {
    const shardTiers = inProcessTiers({ tiers }, shards);
    const list = Array.from(
      { length: shards },
      (_, index) =>
        new Shard({
          partition: { index, count: shards },
          modelVersions: [{ name: MODEL, dimension: DIM }],
          factory: faissFactory,
          log: silentLogger,
          source,
          ...(shardTiers ? { tiers: shardTiers } : {}),
        }),
    );
    await Promise.all(list.map((shard) => shard.start()));
    built = {
      router: new ClusterRouter(
        list.map((shard) => [new LocalReplica(shard)]),
        routerOptions,
      ),
      failover: new ClusterRouter(
        list.map((shard, i) => [downReplica(`down:${i}`), new LocalReplica(shard, false)]),
        { ...routerOptions, backoffMs: 60_000 },
      ),
    };
  } else {
    built = {
      router: await createRouter({
        mode: 'in-process',
        shards,
        modelVersions: [{ name: MODEL, dimension: DIM }],
        source,
        tiers,
        ...routerOptions,
        ...(kind === 'unscaled' ? { scaleSearchParams: false } : {}),
      }),
    };
  }
  const router = built.router;
  source.putMany(MODEL, ids, base);
  setFaissThreads(0);
  const started = performance.now();
  const reports = await router.rebuild(MODEL);
  const seconds = (performance.now() - started) / 1000;
  for (const r of reports) if (r.error) throw new Error(`shard ${r.shard} rebuild failed: ${r.error}`);
  const kinds = new Set(reports.map((r) => r.outcome?.kind));
  if (kinds.size !== 1 || !kinds.has(tier)) throw new Error(`expected ${tier} main tiers, got ${[...kinds]}`);
  const stats = await router.stats();
  const factory = JSON.stringify(stats).match(/"factory":"([^"]+)"/)?.[1] ?? tier;
  const rescore =
    kind === 'auto' && tier === 'ivfpq'
      ? `, rescoreFactor=${shardRescoreFactor(DEFAULT_TIER_OPTIONS.rescoreFactor, shards)}`
      : '';
  builds.push({
    tier,
    shards,
    router: kind,
    factory: `${factory}${rescore}`,
    seconds: round(seconds, 1),
    vectorsPerShard: reports.map((r) => r.outcome?.vectors ?? 0),
    ...(mapSeconds === undefined ? {} : { mapSeconds: round(mapSeconds, 1) }),
  });
  log(
    `built ${shards} x ${tier} (${factory}${rescore}, ${kind}) in ${seconds.toFixed(1)} s` +
      (mapSeconds === undefined ? '' : ` (partition map ${mapSeconds.toFixed(1)} s)`),
  );
  return built;
}

interface Pass {
  found: BigInt64Array;
  latencies: Float64Array;
  wallMs: number;
  cpuMs: number;
  partial: number;
  shardsAnswered: number;
}

async function pass(
  router: ShardRouter,
  options: RouterSearchOptions,
  inflight: number,
  count = NQ,
): Promise<Pass> {
  const found = new BigInt64Array(count * K).fill(-1n);
  const latencies = new Float64Array(count);
  let next = 0;
  let partial = 0;
  let shardsAnswered = 0;
  const loop = async () => {
    while (next < count) {
      const q = next++;
      const started = performance.now();
      const result = await router.search(MODEL, queryList[q]!, K, options);
      latencies[q] = performance.now() - started;
      if (result.partial) partial++;
      shardsAnswered += result.shardsAnswered;
      result.hits.forEach((h, j) => {
        found[q * K + j] = h.id;
      });
    }
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: inflight }, loop));
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { found, latencies, wallMs, cpuMs: (used.user + used.system) / 1000, partial, shardsAnswered };
}

interface Variant {
  router: ShardRouter;
  kind: RouterKind;
  shards: number;
  params: string;
  options: RouterSearchOptions;
  /** Index of the 1-shard variant this one is compared with. Default 0 (1 shard, defaults). */
  versus?: number;
}

/** Runs every variant at one in-flight count, in rotating order, REPEATS times; keeps each one's fastest pass. */
async function measure(tier: MainTierKind, variants: Variant[], inflight: number): Promise<void> {
  for (const v of variants) await pass(v.router, v.options, 1, Math.min(50, NQ)); // warm-up
  const best: (Pass | undefined)[] = variants.map(() => undefined);
  for (let r = 0; r < REPEATS; r++) {
    for (let i = 0; i < variants.length; i++) {
      const at = (i + r) % variants.length;
      const v = variants[at]!;
      const result = await pass(v.router, v.options, inflight);
      if (!best[at] || result.wallMs < best[at]!.wallMs) best[at] = result;
    }
  }
  variants.forEach((v, i) => {
    const p = best[i]!;
    const baseline = best[v.versus ?? 0]!;
    const sorted = Float64Array.from(p.latencies).sort();
    const row: Row = {
      tier,
      shards: v.shards,
      router: v.kind,
      params: v.params,
      inflight,
      recall: round(recallAtK(truth, p.found, K), 4),
      qps: Math.round((NQ / p.wallMs) * 1000),
      p50Ms: round(percentile(sorted, 50), 3),
      p99Ms: round(percentile(sorted, 99), 3),
      cpuMsPerQuery: round(p.cpuMs / NQ, 3),
      partial: p.partial,
      shardsPerQuery: round(p.shardsAnswered / NQ, 2),
      load1: round(loadavg()[0] ?? 0, 2),
    };
    if (v.shards > 1) {
      row.overheadPct = round((p.wallMs / baseline.wallMs - 1) * 100, 1);
      row.cpuOverheadPct = round((p.cpuMs / baseline.cpuMs - 1) * 100, 1);
      row.versus = variants[v.versus ?? 0]!.params;
    }
    rows.push(row);
    log(
      `${tier} ${v.kind} shards=${row.shards} ${row.params} inflight=${inflight}: recall ${row.recall.toFixed(3)}, ` +
        `${row.qps} QPS, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, cpu ${row.cpuMsPerQuery} ms/q` +
        (row.cpuOverheadPct !== undefined
          ? `, overhead ${row.overheadPct}% wall, ${row.cpuOverheadPct}% cpu vs ${row.versus}`
          : ''),
    );
  });
}

type LoadSummary = ReturnType<ReturnType<typeof sampleLoad>['stop']>;

/** What a run measured with: stored in router.json, read back by --render. */
interface Settings {
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
  shardDefaults: typeof DEFAULTS;
}
let loadSummary: LoadSummary;
let date = new Date().toISOString();
let machine = machineFacts();
let avx2 = false;
if (RENDER) {
  // re-render the Markdown from a saved run (same flags), without measuring again
  const saved = JSON.parse(await readFile(RENDER, 'utf8')) as {
    rows: Row[];
    builds: BuildRow[];
    load: LoadSummary;
    date: string;
    machine: typeof machine;
    avx2: boolean;
    command: string;
    settings: Omit<Settings, 'tiers' | 'inflight' | 'families'> &
      Partial<Pick<Settings, 'tiers' | 'inflight' | 'families'>>;
  };
  // the stored run's settings, not the flags' defaults (older runs lack tiers and inflight: the rows have them)
  const stored = saved.settings;
  data = {
    n: stored.n,
    queries: stored.queries,
    dim: stored.dim,
    k: stored.k,
    seed: stored.seed,
    clusters: stored.clusters,
  };
  ({ n: N, queries: NQ, dim: DIM, k: K } = data);
  CLUSTERS = stored.clusters;
  FAMILIES = stored.families ?? undefined;
  SHARDS = stored.shards;
  REPEATS = stored.repeats;
  TARGET = stored.targetPct;
  AUTO_EF = stored.autoEf;
  AUTO_NPROBE = stored.autoNprobe;
  DEFAULTS = stored.shardDefaults;
  TIERS = stored.tiers ?? [...new Set(saved.rows.map((r) => r.tier))];
  INFLIGHT = stored.inflight ?? [...new Set(saved.rows.map((r) => r.inflight))];
  rows.push(...saved.rows);
  builds.push(...saved.builds);
  loadSummary = saved.load;
  date = saved.date;
  machine = saved.machine;
  avx2 = saved.avx2;
  COMMAND = saved.command;
} else {
  await prepare();
  avx2 = faissBuild().simd === 'avx2';
  for (const tier of TIERS) {
    const one = (await buildRouter(tier, 1, 'one')).router;
    const many = (await buildRouter(tier, SHARDS, 'unscaled')).router;
    const auto = await buildRouter(tier, SHARDS, 'auto');
    const clustered = await buildRouter(tier, SHARDS, 'clustered');
    const variants: Variant[] = [
      { router: one, kind: 'one', shards: 1, params: 'default', options: {} },
      { router: many, kind: 'unscaled', shards: SHARDS, params: 'default', options: {} },
      { router: auto.router, kind: 'auto', shards: SHARDS, params: 'default', options: {} },
      { router: auto.failover!, kind: 'failover', shards: SHARDS, params: 'default', options: {} },
      { router: clustered.router, kind: 'clustered', shards: SHARDS, params: 'default', options: {} },
      { router: clustered.whole!, kind: 'clustered-whole', shards: SHARDS, params: 'default', options: {} },
      {
        router: clustered.failover!,
        kind: 'clustered-failover',
        shards: SHARDS,
        params: 'default',
        options: {},
      },
    ];
    // the automatic rule at other whole-collection settings, each against one shard at that setting
    const wholes: RouterSearchOptions[] =
      tier === 'hnsw'
        ? AUTO_EF.map((efSearch) => ({ efSearch }))
        : tier === 'ivfpq'
          ? AUTO_NPROBE.map((nprobe) => ({ nprobe }))
          : [];
    for (const options of wholes) {
      const params = Object.entries(options)
        .map(([name, value]) => `${name}=${value}`)
        .join(' ');
      const versus = variants.push({ router: one, kind: 'one', shards: 1, params, options }) - 1;
      variants.push({ router: auto.router, kind: 'auto', shards: SHARDS, params, options, versus });
      variants.push({ router: clustered.router, kind: 'clustered', shards: SHARDS, params, options, versus });
    }
    if (tier === 'hnsw') {
      for (const ef of HNSW_EF) {
        variants.push({
          router: many,
          kind: 'unscaled',
          shards: SHARDS,
          params: `efSearch=${ef}`,
          options: { efSearch: ef },
        });
      }
    }
    if (tier === 'ivfpq') {
      // the "same share of lists" rule the router does not use: the evidence for keeping nprobe
      const nlistOne = Number(/IVF(\d+)/.exec(ivfpqFactory(N, DIM))?.[1]);
      const nlistShard = Number(/IVF(\d+)/.exec(ivfpqFactory(Math.round(N / SHARDS), DIM))?.[1]);
      const scaled = Math.max(1, Math.round((DEFAULT_TIER_OPTIONS.nprobe * nlistShard) / nlistOne));
      if (scaled !== DEFAULT_TIER_OPTIONS.nprobe) {
        variants.push({
          router: auto.router,
          kind: 'auto',
          shards: SHARDS,
          params: `nprobe=${scaled} (share of lists)`,
          options: { nprobe: scaled },
        });
      }
    }
    setFaissThreads(1);
    for (const inflight of INFLIGHT) await measure(tier, variants, inflight);
    await auto.failover!.close();
    await clustered.failover!.close();
    await clustered.whole!.close();
    for (const router of [one, many, auto.router, clustered.router]) await router.close();
  }
  loadSummary = load!.stop();
}

// ---------------------------------------------------------------- report

const isMet = (r: Row, one: Row) =>
  r.cpuOverheadPct !== undefined && r.cpuOverheadPct <= TARGET && r.recall >= one.recall - 0.0005;

interface Verdict {
  tier: MainTierKind;
  inflight: number;
  router: RouterKind;
  params: string;
  overheadPct: number;
  cpuOverheadPct: number;
  recallOne: number;
  recallMany: number;
  verdict: string;
}
const verdicts: Verdict[] = [];
for (const tier of TIERS) {
  for (const inflight of INFLIGHT) {
    const manyRows = rows.filter(
      (r) => r.tier === tier && r.inflight === inflight && r.shards === SHARDS && !isFailover(r.router),
    );
    const oneOf = (r: Row) =>
      rows.find(
        (o) => o.tier === tier && o.inflight === inflight && o.shards === 1 && o.params === r.versus,
      )!;
    const verdictRow = (r: Row): Verdict => {
      const one = oneOf(r);
      return {
        tier,
        inflight,
        router: r.router,
        params: r.params,
        overheadPct: r.overheadPct!,
        cpuOverheadPct: r.cpuOverheadPct!,
        recallOne: one.recall,
        recallMany: r.recall,
        verdict: isMet(r, one)
          ? 'met'
          : r.recall < one.recall - 0.0005
            ? r.cpuOverheadPct! <= TARGET
              ? 'not met (recall lost)'
              : 'not met (recall lost, CPU)'
            : 'not met (CPU)',
      };
    };
    // the router's own rows: unscaled and automatic, at the defaults and at every whole setting
    for (const r of manyRows.filter(
      (r) => r.router === 'auto' || r.router === 'clustered' || r.params === 'default',
    )) {
      verdicts.push(verdictRow(r));
    }
    // the fastest hand-set (unscaled) efSearch that keeps the single shard's recall, if any
    const one = rows.find(
      (o) => o.tier === tier && o.inflight === inflight && o.shards === 1 && o.params === 'default',
    )!;
    const tuned = manyRows
      .filter((r) => r.router === 'unscaled' && r.params !== 'default' && r.recall >= one.recall - 0.0005)
      .sort((x, y) => x.cpuMsPerQuery - y.cpuMsPerQuery)[0];
    if (tuned) verdicts.push({ ...verdictRow(tuned), params: `${tuned.params} (hand-set)` });
  }
}

/** Shard sizes of every multi-shard build: largest deviation from the mean. */
const balance = builds
  .filter((b) => b.shards > 1)
  .map((b) => {
    const mean = b.vectorsPerShard.reduce((x, y) => x + y, 0) / b.vectorsPerShard.length;
    const worst = Math.max(...b.vectorsPerShard.map((v) => Math.abs(v / mean - 1)));
    return {
      tier: b.tier,
      router: b.router,
      sizes: b.vectorsPerShard,
      maxDeviationPct: round(worst * 100, 1),
    };
  });

const json = {
  command: COMMAND,
  date,
  machine,
  avx2,
  load: loadSummary,
  settings: {
    ...data,
    clusters: CLUSTERS,
    families: FAMILIES ?? null,
    shards: SHARDS,
    tiers: TIERS,
    inflight: INFLIGHT,
    repeats: REPEATS,
    targetPct: TARGET,
    autoEf: AUTO_EF,
    autoNprobe: AUTO_NPROBE,
    shardDefaults: DEFAULTS,
  } satisfies Settings,
  rule: {
    efSearch: 'max(k, ceil(efSearch / sqrt(shards)))',
    rescoreFactor: 'max(1, ceil(rescoreFactor / shards)) (in-process shards)',
    nprobe: 'unchanged',
    perShardAtDefaults: {
      efSearch: shardEfSearch(DEFAULTS.efSearch, SHARDS, K),
      rescoreFactor: shardRescoreFactor(DEFAULTS.rescoreFactor, SHARDS),
      nprobe: DEFAULTS.nprobe,
    },
    clustered: {
      nearest: 'nprobe / sqrt(shards) (rounded, at least 1), efSearch unchanged (at least k)',
      slack: 'nprobe / shards, efSearch / shards (rounded up, at least 1 and k)',
      atDefaults: clusterShardParams(DEFAULTS, SHARDS, K),
    },
  },
  builds,
  balance,
  rows,
  verdicts,
};

const pct = (x: number | undefined) => (x === undefined ? '' : `${x > 0 ? '+' : ''}${x}%`);
const loaded = loadSummary.mean > machine.cpus;
const md = [
  '# Router fan-out benchmark',
  '',
  `Command: \`${COMMAND}\``,
  '',
  `Machine: ${machine.cpuModel}, ${machine.cpus} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}; FAISS: ${machine.faiss ?? `avx2 build: ${avx2 ? 'yes' : 'no'}`}. Date: ${json.date.slice(0, 10)}.`,
  '',
  `Load average (1 min): ${loadSummary.atStart} at start, ${loadSummary.atEnd} at end, mean ${loadSummary.mean}, max ${loadSummary.max} over ${loadSummary.samples} samples; this process used ${loadSummary.processCpuPercent}% of the machine. A load above ${machine.cpus} means other work shared the cores.`,
  ...(loaded
    ? [
        '',
        `**Loaded machine**: the mean load (${loadSummary.mean}) was above the core count, so wall times (QPS, p50, p99, wall overhead) mostly measure other engineers' work; CPU ms/query (this process's own CPU time) is the figure to read, and even it is inflated by contention for caches and cores. A quiet-machine re-run is needed before these numbers are quoted.`,
      ]
    : []),
  '',
  `Data: ${N} seeded synthetic ${DIM}-d unit vectors around ${CLUSTERS} cluster centres${FAMILIES === undefined ? '' : ` drawn around ${FAMILIES} family centres`} (\`search-cluster/src/faiss/synthetic.ts\`), ${NQ} queries from the same centres, k=${K}; recall@${K} against an exact FAISS Flat search over all vectors. Routers: **one** = \`createRouter({ mode: 'in-process', shards: 1 })\`; **unscaled** = ${SHARDS} shards with \`scaleSearchParams: false\` (every shard gets the whole search's parameters, the old behaviour); **auto** = ${SHARDS} shards as \`createRouter\` now makes them (tiers from \`inProcessTiers\`, a \`ClusterRouter\` that scales efSearch per shard); **failover** = auto's shards behind 2 replicas each, the first replica of every shard down; **clustered** = ${SHARDS} shards as \`createRouter({ partitioning: { kind: 'cluster' } })\` makes them (a partition map of k-means centroids over a ${CLUSTERED.sampleSize}-vector sample of the source, built before the shards start; the router probes the nearest shards, each with parameters scaled to what it holds, see the rule below); **clustered-whole** = clustered's shards with \`scaleSearchParams: false\` (every probed shard gets the whole parameters, the rule before); **clustered-failover** = clustered's shards behind 2 replicas each, the first down. Each is filled from a \`MemoryVectorSource\` and \`router.rebuild()\`; the main tier is forced with \`tiers.mainTier\`. Queries go one per \`router.search()\` call with ${INFLIGHT.join(' or ')} calls in flight; FAISS uses one OpenMP thread per call. Variants of one tier run in rotating order, ${REPEATS} passes each, fastest pass kept. CPU overhead = CPU ms/query of the ${SHARDS}-shard row over the 1-shard row with the same whole-collection params ("vs"), minus 1; wall overhead likewise with the wall time of the pass.`,
  '',
  `Rule (\`search-cluster/src/router/shard-params.ts\`): per shard efSearch = ${json.rule.efSearch}, rescoreFactor = ${json.rule.rescoreFactor}, nprobe ${json.rule.nprobe}; at the shard defaults and ${SHARDS} shards: efSearch ${json.rule.perShardAtDefaults.efSearch}, rescoreFactor ${json.rule.perShardAtDefaults.rescoreFactor}, nprobe ${json.rule.perShardAtDefaults.nprobe}. Clustered (\`clusterShardParams\`): the shard of the query's nearest centroid gets ${json.rule.clustered.nearest}, each slack-probed shard ${json.rule.clustered.slack}; at the shard defaults: nearest nprobe ${json.rule.clustered.atDefaults.nearest.nprobe} / efSearch ${json.rule.clustered.atDefaults.nearest.efSearch}, slack nprobe ${json.rule.clustered.atDefaults.slack.nprobe} / efSearch ${json.rule.clustered.atDefaults.slack.efSearch}; rescoreFactor is the shards' own (${DEFAULTS.rescoreFactor}). Unfiltered searches only.`,
  '',
  '## Target',
  '',
  `Issue 14 item 5: "${SHARDS} shards against 1 at equal recall costs <= +${TARGET}% CPU per query". Met = CPU overhead <= ${TARGET}% and recall at least the single shard's (within 0.0005).`,
  '',
  table(
    [
      'main tier',
      'in flight',
      'router',
      'params (whole)',
      'CPU overhead',
      'wall overhead',
      'recall 1 shard',
      `recall ${SHARDS} shards`,
      'target',
    ],
    verdicts.map((v) => [
      v.tier,
      v.inflight,
      v.router,
      v.params,
      pct(v.cpuOverheadPct),
      pct(v.overheadPct),
      v.recallOne.toFixed(3),
      v.recallMany.toFixed(3),
      v.verdict === 'met' ? 'met' : `**${v.verdict}**`,
    ]),
    [1, 4, 5, 6, 7],
  ),
  '',
  '## Balance',
  '',
  'Ids are hash-partitioned (`shardOf`, `search-cluster/src/shard/partition.ts`) for unscaled and auto; clustered places each vector on the shard owning its nearest k-means centroid (`search-cluster/src/router/partition-map.ts`, clusters assigned to shards balanced by sample size). Target: shard sizes within 20% of the mean.',
  '',
  table(
    ['main tier', 'router', 'vectors per shard', 'largest deviation from mean', 'within 20%'],
    balance.map((b) => [
      b.tier,
      b.router,
      b.sizes.join(' / '),
      `${b.maxDeviationPct}%`,
      b.maxDeviationPct <= 20 ? 'yes' : '**no**',
    ]),
    [3],
  ),
  '',
  '## Availability',
  '',
  `The failover routers put every shard behind 2 replicas whose first is down (every call fails with SHARD_UNAVAILABLE, as an unreachable shard server would); the router moves to the live replica and keeps away from the failed one for its back-off. failover uses auto's shards, clustered-failover clustered's; each is compared with the router of the same shards with every replica up:`,
  '',
  table(
    [
      'main tier',
      'in flight',
      'router',
      `recall@${K}`,
      'partial answers',
      'shards/query',
      'CPU ms/query',
      'p50 ms',
      'p99 ms',
    ],
    rows
      .filter((r) => r.router !== 'one' && r.router !== 'unscaled' && r.params === 'default')
      .map((r) => [
        r.tier,
        r.inflight,
        r.router,
        r.recall.toFixed(3),
        r.partial,
        r.shardsPerQuery ?? '',
        r.cpuMsPerQuery,
        r.p50Ms,
        r.p99Ms,
      ]),
    [1, 3, 4, 5, 6, 7, 8],
  ),
  '',
  '## Builds',
  '',
  table(
    [
      'main tier',
      'shards',
      'router',
      'factory (per shard)',
      'vectors per shard',
      'rebuild s',
      'partition map s',
    ],
    builds.map((b) => [
      b.tier,
      b.shards,
      b.router,
      b.factory,
      b.vectorsPerShard.join(' / '),
      b.seconds,
      b.mapSeconds ?? '',
    ]),
    [1, 5, 6],
  ),
  '',
  '## Searches',
  '',
  table(
    [
      'main tier',
      'shards',
      'router',
      'params',
      'in flight',
      `recall@${K}`,
      'shards/query',
      'QPS',
      'p50 ms',
      'p99 ms',
      'CPU ms/query',
      'CPU overhead',
      'wall overhead',
      'vs',
      'load',
    ],
    rows.map((r) => [
      r.tier,
      r.shards,
      r.router,
      r.params,
      r.inflight,
      r.recall.toFixed(3),
      r.shardsPerQuery ?? '',
      r.qps,
      r.p50Ms,
      r.p99Ms,
      r.cpuMsPerQuery,
      pct(r.cpuOverheadPct),
      pct(r.overheadPct),
      r.versus ?? '',
      r.load1,
    ]),
    [1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14],
  ),
  '',
  ...analysis(),
];

/** Why the overhead is what it is, from the rows above. */
function analysis(): string[] {
  const get = (tier: MainTierKind, shards: number, params: string, inflight: number) =>
    rows.find(
      (r) =>
        r.tier === tier &&
        r.shards === shards &&
        r.params === params &&
        r.inflight === inflight &&
        (r.router === 'one' || r.router === 'unscaled'),
    );
  const out = ['## Why', ''];
  const f1 = get('flat', 1, 'default', 1);
  const f4 = get('flat', SHARDS, 'default', 1);
  if (f1 && f4) {
    const f1b = get('flat', 1, 'default', 2) ?? f1;
    const f4b = get('flat', SHARDS, 'default', 2) ?? f4;
    const perCall = (f4.cpuMsPerQuery - f1.cpuMsPerQuery) / (SHARDS - 1);
    const perCallB = (f4b.cpuMsPerQuery - f1b.cpuMsPerQuery) / (SHARDS - 1);
    out.push(
      `- **Flat** does exactly the same distance work split ${SHARDS} ways, so the difference in CPU per query (${f1.cpuMsPerQuery} -> ${f4.cpuMsPerQuery} ms) is the fixed cost of a shard call: ${round(perCall * 1000, 0)} us per extra shard with 1 in flight, ${round(perCallB * 1000, 0)} us with 2 (${f1b.cpuMsPerQuery} -> ${f4b.cpuMsPerQuery} ms; a 7 ms Flat search makes this estimate noisy, and 4 concurrent native calls on 2 cores add contention) (router fan-out and merge, Shard/ModelIndex validation and tier dispatch, the read lock, the hand-off to a libuv pool thread and back, FAISS call set-up, Hit objects). With one query in flight the ${SHARDS} shard searches run side by side on the libuv pool, so ${SHARDS} shards use both cores where one shard uses one: that parallelism, not less work, is why the ${SHARDS}-shard rows can be faster (negative overhead). With 2 in flight both configurations already keep both cores busy and the comparison is one of total work.`,
    );
  }
  const h1 = get('hnsw', 1, 'default', 1);
  const h4 = get('hnsw', SHARDS, 'default', 1);
  if (h1 && h4) {
    const model = SHARDS * (Math.log(N / SHARDS) / Math.log(N));
    out.push(
      `- **HNSW**: every shard runs a full graph search with the shard default efSearch=${DEFAULTS.efSearch} (at least k). A search visits roughly efSearch x M nodes per layer along a path that grows with log n, so ${SHARDS} graphs of n/${SHARDS} do about ${SHARDS} x log(n/${SHARDS})/log(n) = ${model.toFixed(1)}x the distance work of one graph of n; measured CPU per query is ${(h4.cpuMsPerQuery / h1.cpuMsPerQuery).toFixed(1)}x (${h1.cpuMsPerQuery} -> ${h4.cpuMsPerQuery} ms), the rest being the fixed per-call cost above. ${h4.recall >= h1.recall ? `The extra work buys recall nobody asked for (${h1.recall.toFixed(3)} on one shard, ${h4.recall.toFixed(3)} on ${SHARDS}), which a lower per-shard efSearch (a query parameter) trades back for speed.` : `Here it does not even buy recall (${h1.recall.toFixed(3)} on one shard, ${h4.recall.toFixed(3)} on ${SHARDS}: smaller graphs of these clustered vectors, each cluster split over ${SHARDS} shards, are not easier to search; not investigated further), so a lower per-shard efSearch (a query parameter) can only buy speed by losing more recall.`} The efSearch rows show the trade. Even at equal recall the gap would not close fully: each shard still pays the upper-layer descent and the fixed call cost, and efSearch cannot go below k=${K}.`,
    );
  }
  const i1 = get('ivfpq', 1, 'default', 1);
  const i4 = get('ivfpq', SHARDS, 'default', 1);
  if (i1 && i4) {
    const nlistOne = Number(/IVF(\d+)/.exec(ivfpqFactory(N, DIM))?.[1]);
    const nlistShard = Number(/IVF(\d+)/.exec(ivfpqFactory(Math.round(N / SHARDS), DIM))?.[1]);
    const p = DEFAULTS.nprobe;
    const codes = (SHARDS * p * (N / SHARDS / nlistShard)) / (p * (N / nlistOne));
    const rescore = K * DEFAULTS.rescoreFactor;
    out.push(
      `- **IVF-PQ**: the list count follows each shard's size (~4 sqrt(n)): IVF${nlistOne} for one shard, IVF${nlistShard} per shard for ${SHARDS}. nprobe=${p} on every shard therefore scans ${p}/${nlistShard} of each shard instead of ${p}/${nlistOne} of the whole: ${codes.toFixed(1)}x the PQ codes. Each shard also re-scores its own short list of k x rescoreFactor = ${rescore} candidates exactly, ${SHARDS * rescore} in all against ${rescore}, and runs its own coarse-quantizer search. Measured CPU per query ${i1.cpuMsPerQuery} -> ${i4.cpuMsPerQuery} ms. Recall is low for every IVF-PQ row at this dimension (the shard's default PQ${Math.max(1, Math.floor(DIM / 8))} keeps ${Math.max(1, Math.floor(DIM / 8))} bytes per ${DIM}-d vector, so ${rescore} re-scored candidates miss true neighbours); it is the same setting on both sides, so the comparison holds, but read these rows for cost, not quality. What the router does about it (the auto rows): rescoreFactor divided by the shard count (fixed when a tier is built, so in-process shards are built with it; the global top-${rescore} spreads over the shards about evenly, so each shard's top ${Math.round(rescore / SHARDS)} covers it), and nprobe kept: probing the same share of each shard's lists (the "share of lists" row) loses recall, because in ${DIM} dimensions a partition into half as many cells has cells barely wider, so a query's neighbourhood touches about as many of them.`,
    );
  }
  out.push('', ...autoFindings());
  return out;
}

/** What the automatic rows show, from the verdicts. */
function autoFindings(): string[] {
  const out: string[] = [];
  for (const v of verdicts.filter((x) => x.router === 'auto' && x.params === 'default')) {
    const unscaled = verdicts.find(
      (x) =>
        x.tier === v.tier && x.inflight === v.inflight && x.router === 'unscaled' && x.params === 'default',
    );
    out.push(
      `- **${v.tier}, ${v.inflight} in flight, automatic**: CPU overhead ${pct(v.cpuOverheadPct)} (unscaled ${pct(unscaled?.cpuOverheadPct)}), recall ${v.recallMany.toFixed(3)} against the single shard's ${v.recallOne.toFixed(3)}: ${v.verdict}.`,
    );
  }
  for (const v of verdicts.filter((x) => x.router === 'clustered')) {
    const row = rows.find(
      (r) =>
        r.tier === v.tier && r.inflight === v.inflight && r.router === 'clustered' && r.params === v.params,
    );
    out.push(
      `- **${v.tier}, ${v.inflight} in flight, clustered, ${v.params}**: ${row?.shardsPerQuery ?? '?'} shards searched per query, CPU overhead ${pct(v.cpuOverheadPct)}, recall ${v.recallMany.toFixed(3)} against the single shard's ${v.recallOne.toFixed(3)}: ${v.verdict}.`,
    );
  }
  out.push(
    '',
    `Per-shard parameters cut the work each shard does, but not the fixed cost of a shard call (about what the Flat rows show) nor, for HNSW, the upper-layer descent every graph pays; with hash partitioning each query still visits every shard. The clustered router (\`partitioning: { kind: 'cluster' }\` of \`createRouter\`) searches the shard of the query's nearest centroid, then only the shards whose best centroid score plus the map's calibrated slack reaches the k-th score found (\`search-cluster/src/router/probe-plan.ts\`). How few shards that is depends on the data: ${FAMILIES === undefined ? `this run's centres are independent random directions (no \`--families\`), nearly orthogonal in ${DIM} dimensions, so no coarse clustering keeps a query's neighbours together and the rule must search most shards; \`--families\` draws the centres around family centres, a two-level structure like semantic groups of images.` : `this run's ${CLUSTERS} centres are drawn around ${FAMILIES} family centres (\`--families ${FAMILIES}\`), a two-level structure like semantic groups of images, which the map's clusters follow.`}`,
  );
  return out;
}

const paths = await writeResults('router', json, md.join('\n'));
log(`wrote ${paths.join(', ')}`);
