/**
 * Router fan-out benchmark (issue 5, last Benchmark target): "the router's fan-out over 4 in-process
 * shards costs under 15% over one shard of the same total size".
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
 * Besides the shard defaults (efSearch 64, nprobe 32) the 4-shard router is also run with per-shard
 * search parameters scaled to the shard's size (bench parameters only, the shard code is untouched):
 * HNSW efSearch swept down, IVF-PQ nprobe scaled so each shard probes the same share of its lists as
 * the single shard does.
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
import { clusteredUnitVectors, recallAtK, sequentialIds } from '../search-cluster/src/faiss/synthetic.ts';
import { ivfpqFactory } from '../search-cluster/src/rebuild/build-main.ts';
import { MemoryVectorSource } from '../search-cluster/src/rebuild/vector-source.ts';
import { createRouter } from '../search-cluster/src/router/config.ts';
import type { RouterSearchOptions, ShardRouter } from '../search-cluster/src/router/router.ts';
import type { MainTierKind } from '../search-cluster/src/shard/main-tier.ts';
import { DEFAULT_TIER_OPTIONS, type TierOptions } from '../search-cluster/src/shard/options.ts';
import { numberList, positiveInt, syntheticDataFlags, syntheticDataSettings } from './support/flags.ts';
import { commandLine, machineFacts, sampleLoad } from './support/machine.ts';
import { table, writeResults } from './support/results.ts';
import { percentile } from './support/stats.ts';

const { values: flags } = parseArgs({
  options: {
    ...syntheticDataFlags({ n: '200000', dim: '128' }),
    shards: { type: 'string', default: '4' },
    tiers: { type: 'string', default: 'flat,hnsw,ivfpq' },
    inflight: { type: 'string', default: '1,2' },
    'hnsw-ef': { type: 'string', default: '16,24,32,48' },
    repeats: { type: 'string', default: '3' },
    target: { type: 'string', default: '15' },
    /** Re-render router.md from a saved router.json instead of measuring. */
    render: { type: 'string' },
  },
});

const positive = (name: keyof typeof flags): number => positiveInt(name, flags[name]);
const list = (name: keyof typeof flags): number[] => numberList(flags[name]);

const { n: N, queries: NQ, dim: DIM, k: K, seed: SEED, clusters } = syntheticDataSettings(flags);
const SHARDS = positive('shards');
const CLUSTERS = clusters ?? Math.max(100, Math.round(N / 20));
const TIERS = String(flags.tiers).split(',') as MainTierKind[];
for (const t of TIERS)
  if (!['flat', 'hnsw', 'ivfpq'].includes(t)) throw new Error(`Unknown tier ${t} (flat, hnsw, ivfpq)`);
const INFLIGHT = list('inflight');
const HNSW_EF = list('hnsw-ef');
const REPEATS = positive('repeats');
const TARGET = Number(flags.target);
const MODEL = 'bench-router';
let COMMAND = commandLine('bench:router');

function log(message: string): void {
  console.log(`[${(performance.now() / 1000).toFixed(1)}s] ${message}`);
}
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

interface Row {
  tier: MainTierKind;
  shards: number;
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
  /** Mean time per query against the 1-shard default row of the same tier and in-flight count. */
  overheadPct?: number;
  load1: number;
}

interface BuildRow {
  tier: MainTierKind;
  shards: number;
  factory: string;
  seconds: number;
  vectorsPerShard: number[];
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
    `n=${N} dim=${DIM} queries=${NQ} k=${K} clusters=${CLUSTERS} shards=1 vs ${SHARDS} faiss=${faissBuild().label}`,
  );
  base = clusteredUnitVectors({ count: N, dimension: DIM, clusters: CLUSTERS, seed: SEED });
  const queries = clusteredUnitVectors({
    count: NQ,
    dimension: DIM,
    clusters: CLUSTERS,
    seed: SEED + 1,
    centreSeed: SEED,
  });
  ids = sequentialIds(N, 1n);
  queryList = Array.from({ length: NQ }, (_, q) => queries.subarray(q * DIM, (q + 1) * DIM));
  setFaissThreads(0);
  const exact = FaissIndex.create(DIM, 'Flat');
  await exact.add(base, ids);
  truth = (await exact.search(queries, K)).ids;
  exact.close();
  log('data and ground truth ready');
}

// ---------------------------------------------------------------- routers

async function buildRouter(
  tier: MainTierKind,
  shards: number,
  extra: Partial<TierOptions> = {},
): Promise<ShardRouter> {
  const source = new MemoryVectorSource();
  const router = await createRouter({
    mode: 'in-process',
    shards,
    modelVersions: [{ name: MODEL, dimension: DIM }],
    source,
    tiers: { mainTier: tier, autoRebuildHotVectors: 0, autoRebuildTombstoneRatio: 0, ...extra },
    // a slow pass on a busy machine must not turn into partial answers
    deadlineMs: 60_000,
  });
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
  builds.push({
    tier,
    shards,
    factory: extra.rescoreFactor ? `${factory}, rescoreFactor=${extra.rescoreFactor}` : factory,
    seconds: round(seconds, 1),
    vectorsPerShard: reports.map((r) => r.outcome?.vectors ?? 0),
  });
  log(`built ${shards} x ${tier} (${factory}) in ${seconds.toFixed(1)} s`);
  return router;
}

interface Pass {
  found: BigInt64Array;
  latencies: Float64Array;
  wallMs: number;
  cpuMs: number;
  partial: number;
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
  const loop = async () => {
    while (next < count) {
      const q = next++;
      const started = performance.now();
      const result = await router.search(MODEL, queryList[q]!, K, options);
      latencies[q] = performance.now() - started;
      if (result.partial) partial++;
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
  return { found, latencies, wallMs, cpuMs: (used.user + used.system) / 1000, partial };
}

interface Variant {
  router: ShardRouter;
  shards: number;
  params: string;
  options: RouterSearchOptions;
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
  const baseline = best[0]!;
  variants.forEach((v, i) => {
    const p = best[i]!;
    const sorted = Float64Array.from(p.latencies).sort();
    const row: Row = {
      tier,
      shards: v.shards,
      params: v.params,
      inflight,
      recall: round(recallAtK(truth, p.found, K), 4),
      qps: Math.round((NQ / p.wallMs) * 1000),
      p50Ms: round(percentile(sorted, 50), 3),
      p99Ms: round(percentile(sorted, 99), 3),
      cpuMsPerQuery: round(p.cpuMs / NQ, 3),
      partial: p.partial,
      load1: round(loadavg()[0] ?? 0, 2),
    };
    if (i > 0) row.overheadPct = round((p.wallMs / baseline.wallMs - 1) * 100, 1);
    rows.push(row);
    log(
      `${tier} shards=${row.shards} ${row.params} inflight=${inflight}: recall ${row.recall.toFixed(3)}, ` +
        `${row.qps} QPS, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, cpu ${row.cpuMsPerQuery} ms/q` +
        (row.overheadPct !== undefined ? `, overhead ${row.overheadPct}%` : ''),
    );
  });
}

type LoadSummary = ReturnType<ReturnType<typeof sampleLoad>['stop']>;
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
  };
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
    const one = await buildRouter(tier, 1);
    const many = await buildRouter(tier, SHARDS);
    const extraRouters: ShardRouter[] = [];
    const variants: Variant[] = [
      { router: one, shards: 1, params: 'default', options: {} },
      { router: many, shards: SHARDS, params: 'default', options: {} },
    ];
    if (tier === 'hnsw') {
      for (const ef of HNSW_EF) {
        variants.push({ router: many, shards: SHARDS, params: `efSearch=${ef}`, options: { efSearch: ef } });
      }
    }
    if (tier === 'ivfpq') {
      // the same share of IVF lists probed per shard as the single shard probes
      const nlistOne = Number(/IVF(\d+)/.exec(ivfpqFactory(N, DIM))?.[1]);
      const nlistShard = Number(/IVF(\d+)/.exec(ivfpqFactory(Math.round(N / SHARDS), DIM))?.[1]);
      const scaled = Math.max(1, Math.round((DEFAULT_TIER_OPTIONS.nprobe * nlistShard) / nlistOne));
      if (scaled !== DEFAULT_TIER_OPTIONS.nprobe) {
        variants.push({
          router: many,
          shards: SHARDS,
          params: `nprobe=${scaled}`,
          options: { nprobe: scaled },
        });
      }
      // the same number of exact re-scores in total: each shard re-scores k * rescoreFactor / shards
      // (rescoreFactor is fixed when a main tier is built, so this is a third router)
      const rescoreFactor = Math.max(1, Math.round(DEFAULT_TIER_OPTIONS.rescoreFactor / SHARDS));
      if (rescoreFactor !== DEFAULT_TIER_OPTIONS.rescoreFactor) {
        const lean = await buildRouter(tier, SHARDS, { rescoreFactor });
        extraRouters.push(lean);
        variants.push({
          router: lean,
          shards: SHARDS,
          params: `rescoreFactor=${rescoreFactor}`,
          options: {},
        });
        if (scaled !== DEFAULT_TIER_OPTIONS.nprobe) {
          variants.push({
            router: lean,
            shards: SHARDS,
            params: `rescoreFactor=${rescoreFactor} nprobe=${scaled}`,
            options: { nprobe: scaled },
          });
        }
      }
    }
    setFaissThreads(1);
    for (const inflight of INFLIGHT) await measure(tier, variants, inflight);
    for (const router of [one, many, ...extraRouters]) await router.close();
  }
  loadSummary = load!.stop();
}

// ---------------------------------------------------------------- report

const verdictOf = (pct: number | undefined) => (pct !== undefined && pct < TARGET ? 'met' : 'not met');

interface Verdict {
  tier: MainTierKind;
  inflight: number;
  params: string;
  overheadPct: number;
  recallOne: number;
  recallMany: number;
  verdict: string;
}
const verdicts: Verdict[] = [];
for (const tier of TIERS) {
  for (const inflight of INFLIGHT) {
    const oneRow = rows.find((r) => r.tier === tier && r.inflight === inflight && r.shards === 1)!;
    const manyRows = rows.filter((r) => r.tier === tier && r.inflight === inflight && r.shards === SHARDS);
    const def = manyRows.find((r) => r.params === 'default')!;
    verdicts.push({
      tier,
      inflight,
      params: 'default',
      overheadPct: def.overheadPct!,
      recallOne: oneRow.recall,
      recallMany: def.recall,
      verdict: verdictOf(def.overheadPct),
    });
    // the tuned variant: the fastest one whose recall is at least the single shard's
    const tuned = manyRows
      .filter((r) => r.params !== 'default' && r.recall >= oneRow.recall - 0.0005)
      .sort((a, b) => b.qps - a.qps)[0];
    if (tuned) {
      verdicts.push({
        tier,
        inflight,
        params: tuned.params,
        overheadPct: tuned.overheadPct!,
        recallOne: oneRow.recall,
        recallMany: tuned.recall,
        verdict: verdictOf(tuned.overheadPct),
      });
    }
    // when no setting matches the single shard's recall under the target: the best recall that does
    if (!tuned || verdictOf(tuned.overheadPct) !== 'met') {
      const under = manyRows
        .filter((r) => r.params !== 'default' && verdictOf(r.overheadPct) === 'met')
        .sort((a, b) => b.recall - a.recall)[0];
      if (under && under.recall < oneRow.recall - 0.0005) {
        verdicts.push({
          tier,
          inflight,
          params: `${under.params} (lower recall)`,
          overheadPct: under.overheadPct!,
          recallOne: oneRow.recall,
          recallMany: under.recall,
          verdict: 'not met (recall lost)',
        });
      }
    }
  }
}

const json = {
  command: COMMAND,
  date,
  machine,
  avx2,
  load: loadSummary,
  settings: {
    n: N,
    dim: DIM,
    queries: NQ,
    k: K,
    shards: SHARDS,
    seed: SEED,
    clusters: CLUSTERS,
    repeats: REPEATS,
    targetPct: TARGET,
    shardDefaults: {
      efSearch: DEFAULT_TIER_OPTIONS.efSearch,
      nprobe: DEFAULT_TIER_OPTIONS.nprobe,
      rescoreFactor: DEFAULT_TIER_OPTIONS.rescoreFactor,
      hnswM: DEFAULT_TIER_OPTIONS.hnswM,
    },
  },
  builds,
  rows,
  verdicts,
};

const md = [
  '# Router fan-out benchmark',
  '',
  `Command: \`${COMMAND}\``,
  '',
  `Machine: ${machine.cpuModel}, ${machine.cpus} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}; FAISS: ${machine.faiss ?? `avx2 build: ${avx2 ? 'yes' : 'no'}`}. Date: ${json.date.slice(0, 10)}.`,
  '',
  `Load average (1 min): ${loadSummary.atStart} at start, ${loadSummary.atEnd} at end, mean ${loadSummary.mean}, max ${loadSummary.max} over ${loadSummary.samples} samples; this process used ${loadSummary.processCpuPercent}% of the machine. A load above ${machine.cpus} means other work shared the cores.`,
  '',
  `Data: ${N} seeded synthetic ${DIM}-d unit vectors around ${CLUSTERS} cluster centres (\`search-cluster/src/faiss/synthetic.ts\`), ${NQ} queries from the same centres, k=${K}; recall@${K} against an exact FAISS Flat search over all vectors. Each configuration is one \`createRouter({ mode: 'in-process', shards })\` over a \`MemoryVectorSource\`, filled after start-up and then \`router.rebuild()\`; the main tier is forced with \`tiers.mainTier\` (the hot tier is empty). Queries go one per \`router.search()\` call with 1 or 2 calls in flight; FAISS uses one OpenMP thread per call, so ${SHARDS} shards put ${SHARDS} native searches on the libuv pool at once. Variants of one tier run in rotating order, ${REPEATS} passes each, fastest pass kept. Overhead = mean time per query (wall time of the pass) of the ${SHARDS}-shard row over the 1-shard default row, minus 1. CPU ms/query is the whole process's CPU time per query (main thread, libuv pool, OpenMP): the total work.`,
  '',
  `Dimension ${DIM} (not CLIP's 512) keeps the six builds within a few minutes on 2 cores; \`--dim 512\` works and makes every distance 4x dearer, which shrinks the share of fixed per-call costs.`,
  '',
  '## Target',
  '',
  `"The router's fan-out over ${SHARDS} in-process shards costs under ${TARGET}% over one shard of the same total size."`,
  '',
  table(
    [
      'main tier',
      'in flight',
      `${SHARDS}-shard params`,
      'overhead',
      'recall 1 shard',
      `recall ${SHARDS} shards`,
      'target',
    ],
    verdicts.map((v) => [
      v.tier,
      v.inflight,
      v.params,
      `${v.overheadPct > 0 ? '+' : ''}${v.overheadPct}%`,
      v.recallOne.toFixed(3),
      v.recallMany.toFixed(3),
      v.verdict === 'met' ? 'met' : `**${v.verdict}**`,
    ]),
    [1, 3, 4, 5],
  ),
  '',
  "Rows with tuned params show the fastest bench-side setting whose recall is at least the single shard's (none means no setting reached it).",
  '',
  '## Builds',
  '',
  table(
    ['main tier', 'shards', 'factory (per shard)', 'vectors per shard', 'rebuild s'],
    builds.map((b) => [b.tier, b.shards, b.factory, b.vectorsPerShard.join(' / '), b.seconds]),
    [1, 4],
  ),
  '',
  '## Searches',
  '',
  table(
    [
      'main tier',
      'shards',
      'params',
      'in flight',
      `recall@${K}`,
      'QPS',
      'p50 ms',
      'p99 ms',
      'CPU ms/query',
      'overhead',
      'load',
    ],
    rows.map((r) => [
      r.tier,
      r.shards,
      r.params,
      r.inflight,
      r.recall.toFixed(3),
      r.qps,
      r.p50Ms,
      r.p99Ms,
      r.cpuMsPerQuery,
      r.overheadPct === undefined ? '' : `${r.overheadPct > 0 ? '+' : ''}${r.overheadPct}%`,
      r.load1,
    ]),
    [1, 3, 4, 5, 6, 7, 8, 9, 10],
  ),
  '',
  ...analysis(),
];

/** Why the overhead is what it is, from the rows above. */
function analysis(): string[] {
  const get = (tier: MainTierKind, shards: number, params: string, inflight: number) =>
    rows.find(
      (r) => r.tier === tier && r.shards === shards && r.params === params && r.inflight === inflight,
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
      `- **HNSW**: every shard runs a full graph search with the shard default efSearch=${DEFAULT_TIER_OPTIONS.efSearch} (at least k). A search visits roughly efSearch x M nodes per layer along a path that grows with log n, so ${SHARDS} graphs of n/${SHARDS} do about ${SHARDS} x log(n/${SHARDS})/log(n) = ${model.toFixed(1)}x the distance work of one graph of n; measured CPU per query is ${(h4.cpuMsPerQuery / h1.cpuMsPerQuery).toFixed(1)}x (${h1.cpuMsPerQuery} -> ${h4.cpuMsPerQuery} ms), the rest being the fixed per-call cost above. ${h4.recall >= h1.recall ? `The extra work buys recall nobody asked for (${h1.recall.toFixed(3)} on one shard, ${h4.recall.toFixed(3)} on ${SHARDS}), which a lower per-shard efSearch (a query parameter) trades back for speed.` : `Here it does not even buy recall (${h1.recall.toFixed(3)} on one shard, ${h4.recall.toFixed(3)} on ${SHARDS}: smaller graphs of these clustered vectors, each cluster split over ${SHARDS} shards, are not easier to search; not investigated further), so a lower per-shard efSearch (a query parameter) can only buy speed by losing more recall.`} The efSearch rows show the trade. Even at equal recall the gap would not close fully: each shard still pays the upper-layer descent and the fixed call cost, and efSearch cannot go below k=${K}.`,
    );
  }
  const i1 = get('ivfpq', 1, 'default', 1);
  const i4 = get('ivfpq', SHARDS, 'default', 1);
  if (i1 && i4) {
    const nlistOne = Number(/IVF(\d+)/.exec(ivfpqFactory(N, DIM))?.[1]);
    const nlistShard = Number(/IVF(\d+)/.exec(ivfpqFactory(Math.round(N / SHARDS), DIM))?.[1]);
    const p = DEFAULT_TIER_OPTIONS.nprobe;
    const codes = (SHARDS * p * (N / SHARDS / nlistShard)) / (p * (N / nlistOne));
    const rescore = K * DEFAULT_TIER_OPTIONS.rescoreFactor;
    out.push(
      `- **IVF-PQ**: the list count follows each shard's size (~4 sqrt(n)): IVF${nlistOne} for one shard, IVF${nlistShard} per shard for ${SHARDS}. nprobe=${p} on every shard therefore scans ${p}/${nlistShard} of each shard instead of ${p}/${nlistOne} of the whole: ${codes.toFixed(1)}x the PQ codes. Each shard also re-scores its own short list of k x rescoreFactor = ${rescore} candidates exactly, ${SHARDS * rescore} in all against ${rescore}, and runs its own coarse-quantizer search. Measured CPU per query ${i1.cpuMsPerQuery} -> ${i4.cpuMsPerQuery} ms. Recall is low for every IVF-PQ row at this dimension (the shard's default PQ${Math.max(1, Math.floor(DIM / 8))} keeps ${Math.max(1, Math.floor(DIM / 8))} bytes per ${DIM}-d vector, so ${rescore} re-scored candidates miss true neighbours); it is the same setting on both sides, so the comparison holds, but read these rows for cost, not quality. Halving nprobe loses recall here (the 512 shard lists are not simply half of the 1024), while dividing rescoreFactor keeps it. The principled fix keeps the total constant: nprobe scaled to the same share of lists (a query parameter), and rescoreFactor divided by the shard count (a tier option fixed at build time, so the bench builds a third router; the global top-${rescore} spreads over the shards about evenly, so each shard's top ${Math.round(rescore / SHARDS)} covers it).`,
    );
  }
  out.push(
    '',
    `The shard code is unchanged: the tuned rows only pass \`efSearch\` / \`nprobe\` to \`router.search()\` or \`rescoreFactor\` to \`createRouter({ tiers })\`. A router that scales these per shard automatically (and \`searchBatch\`, which amortises the fixed per-call cost over many queries when a caller has several) would be the follow-up; \`searchBatch\` does not apply to the one-query-per-call latency this target is about.`,
  );
  return out;
}

const paths = await writeResults('router', json, md.join('\n'));
log(`wrote ${paths.join(', ')}`);
