/**
 * Search latency: GraphQL search over HTTP at N indexed vectors (default 1,000,000), concurrency 8,
 * text queries whose embeddings are cached, p50/p99 end to end (client side) and per stage
 * (encode, fan-out, hydrate, re-rank, from SearchOutcome.stages).
 *
 *   npm run bench:search                          # 1M vectors, 3,000 measured requests
 *   npm run bench:search -- --vectors 200000      # a quicker run
 *   npm run bench:search -- --model tiny-clip-v1  # the 64-d tiny model instead
 *
 * The model is the generated tiny-clip-512 by default: tiny-clip-v1's colour semantics at 512
 * dimensions, the size of ViT-B/32's embeddings, so every distance, row and copy costs what the
 * real model's would (`--model` names another generated tiny model, PIXELFIND_MODEL any model).
 * Vectors have the model's dimension and are synthetic, in groups: the 10 colour words' text
 * embeddings are anchors, each with ~n/300 small groups (~30 images: near-duplicates, a scene, a
 * subject) whose centres sit at an angle from the anchor drawn with a sparse small-angle tail
 * (synthetic.ts#groupCentres, intrinsic dimension 16: the groups within an angle a grow as
 * a^16; intrinsic-dimension estimates for natural image data run in the tens, and at 8 the top
 * 100 fell in so few IVF lists that nprobe 4 of 1,024 found them all, where bench:ann's clustered
 * data needs a quarter of the lists),
 * members = group centre + Gaussian noise of norm 0.5 (cosine ~0.8 between members), normalised;
 * seeded, the same rows at any --batch. So a query's similarity to the corpus has what real CLIP
 * data has and the first version of this bench lacked: a sparse upper tail (few images match
 * strongly, then ever more as the similarity falls). That version drew every vector as a word
 * embedding plus isotropic noise (norm 0.6) and queried the words themselves: in 512-d the noise
 * puts every vector of a word at the same angle from it, so a query faced a band of ~n/40
 * vectors within 0.02 of each other, below a 4-bit PQ code's inner-product error (~0.016), and
 * served recall was ~0.39 at any nprobe, a figure of the data, not of the index. The 40 queries:
 * the 10 anchors themselves, and the 30 two-colour phrases, which generate nothing and sit
 * between two anchors (cosine 0.66 to each), reported apart ("between"). Rows go
 * straight into `images` (INDEXED, safety 1), `embeddings`, `tags` and `image_stats` in large
 * multi-row statements; the shards then rebuild their main tier from `embeddings` (the source of
 * record), which is how a bulk load reaches them in production. Pushing a million vectors through
 * router.upsert first would only fill the flat hot tier and trigger an automatic rebuild every
 * 100,000 vectors per shard, ending in the same main tier.
 *
 * Served recall: every query's ANN candidates (k as the service asks for them) against an exact
 * search of every vector (FAISS Flat over each inserted batch), at the shards' default nprobe and
 * at each `--recall-nprobe`, so the latency figure comes with the recall it was served at.
 * `--main-tier ivfpq` serves a smaller run from the IVF-PQ fast-scan tier a 1M run gets by size.
 *
 * Postgres: a scratch database created on DATABASE_URL (default the test server,
 * postgres://postgres@127.0.0.1:5432/postgres) and dropped at the end. When no server answers,
 * PGlite with 100,000 vectors by default.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { Services } from '../api/src/context.ts';
import type { Database } from '../api/src/db/database.ts';
import { createServices } from '../api/src/services.ts';
import type { NprobeCalibration } from '../search-cluster/src/rebuild/calibrate-nprobe.ts';
import { COLOUR_NAMES } from '../test/fixtures/images/make-images.ts';
import {
  ensureTinyModel,
  TINY_MODEL_VERSIONS,
  type TinyModelVersion,
} from '../test/fixtures/tiny-clip/generate.ts';
import { CORPUS, groupedCorpus, vocabulary } from './search/corpus.ts';
import { createScratchDatabase, DEFAULT_ADMIN_URL, probePostgres } from './support/database.ts';
import { positiveInt, positiveInts, runStamp, stampMarkdown } from './support/flags.ts';
import { cpuMeter, sampleLoad } from './support/machine.ts';
import { RESULTS_DIR, table, writeResults } from './support/results.ts';
import { ExactTopK, servedRecall } from './support/served-recall.ts';
import { benchConfig, recordStages, startServer } from './support/server.ts';
import { type Summary, summarise } from './support/stats.ts';
import { lineChartSvg } from './support/svg.ts';

const { values } = parseArgs({
  options: {
    vectors: { type: 'string' },
    requests: { type: 'string', default: '3000' },
    warmup: { type: 'string', default: '400' },
    concurrency: { type: 'string', default: '8' },
    shards: { type: 'string', default: '2' },
    limit: { type: 'string', default: '20' },
    batch: { type: 'string', default: '20000' },
    model: { type: 'string', default: 'tiny-clip-512' },
    // IVF nprobe values whose recall (and search time) is measured besides the served default
    // the shards' main tier: 'auto' chooses by size (IVF-PQ above 300,000 vectors a shard, as at
    // 1M); 'ivfpq' serves a smaller run from the tier the full run serves
    'main-tier': { type: 'string', default: 'auto' },
    'recall-nprobe': { type: 'string', default: '32,64,128,256,512' },
    // a variant of the shards' defaults: the whole search's rescoreFactor (the router divides it by
    // the shard count), written to bench/results/<name>.* beside the default run. (nprobe has no
    // flag: the configured value only raises the tier's floor of 1/8 of its lists, and the recall
    // sweep above measures lower values per search.)
    'rescore-factor': { type: 'string' },
    name: { type: 'string', default: 'search' },
  },
});
const settings = positiveInts(values, ['requests', 'warmup', 'concurrency', 'shards', 'limit', 'batch']);
const MAIN_TIERS = ['auto', 'flat', 'hnsw', 'ivfpq'] as const;
const mainTier = values['main-tier'] as (typeof MAIN_TIERS)[number];
if (!MAIN_TIERS.includes(mainTier))
  throw new Error(`Expected --main-tier to be one of ${MAIN_TIERS.join(', ')} but received ${mainTier}`);
const tierVariant = {
  ...(values['rescore-factor']
    ? { rescoreFactor: positiveInt('rescore-factor', values['rescore-factor']) }
    : {}),
};
const resultsName = values.name;
if (!/^search[a-z0-9-]*$/.test(resultsName))
  throw new Error(
    `Expected --name to start with "search" (lower case, digits, -) but received ${resultsName}`,
  );
const recallNprobes = values['recall-nprobe'].split(',').map((v) => positiveInt('recall-nprobe', v));

const SEARCH = `query Search($input: SearchInput!) {
  search(input: $input) {
    queryId partial tookMs
    hits { score similarity image { id width height storageUrl tags { label } } }
  }
}`;

/** Searches so far by hydrate path (the pixelfind_search_hydrate_total counter). */
async function hydratePaths(services: Pick<Services, 'metrics'>): Promise<Record<string, number>> {
  const metric = (await services.metrics.registry.getMetricsAsJSON()).find(
    (m) => m.name === 'pixelfind_search_hydrate_total',
  );
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.path), v.value]));
}

/** The idle window over which the background's rate of Postgres statements is measured. */
const IDLE_WINDOW_MS = 5000;

/** What the load-generating thread (support/http-load-worker.mjs) reports. */
interface LoadReport {
  ms: number[];
  errors: number;
  shortPages: number;
  firstError: string | null;
  seconds: number;
}

/** Inserts `total` images with embeddings, one tag each and stats for every tenth; returns seconds. */
async function fill(
  db: Database,
  modelVersion: string,
  words: string[],
  anchors: Float32Array[],
  total: number,
  batch: number,
  exact: ExactTopK,
) {
  const started = performance.now();
  const corpus = groupedCorpus(anchors, total);
  for (let from = 1; from <= total; from += batch) {
    const to = Math.min(total, from + batch - 1);
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO images (storage_url, mime_type, byte_size, width, height, uploader_id, status, sha256, safety_score, indexed_at)
       SELECT 'bench/' || g || '.png', 'image/png', 4096, 64, 64, 'bench', 'INDEXED', lpad(to_hex(g), 64, '0'), 1, now()
       FROM generate_series($1::bigint, $2::bigint) AS g
       RETURNING id::text AS id`,
      [from, to],
    );
    const ids = rows.map((r) => r.id);
    const vectors: Buffer[] = [];
    const labels: string[] = [];
    const dimension = anchors[0]!.length;
    const { vectors: packed, anchor } = corpus(ids.length);
    for (let i = 0; i < ids.length; i++) {
      vectors.push(Buffer.from(packed.buffer, packed.byteOffset + i * dimension * 4, dimension * 4));
      labels.push(words[anchor[i]!]!);
    }
    // the ground truth of served recall: every bench query's exact neighbours
    await exact.addBatch(
      packed,
      BigInt64Array.from(ids, (id) => BigInt(id)),
    );
    await db.query(
      `INSERT INTO embeddings (image_id, model_version, dim, vector)
       SELECT id, $3, $4, v FROM unnest($1::bigint[], $2::bytea[]) AS t(id, v)`,
      [ids, vectors, modelVersion, anchors[0]!.length],
    );
    await db.query(
      `INSERT INTO tags (image_id, label, confidence, source, model_version)
       SELECT id, label, 0.9, 'clip-zero-shot', $3 FROM unnest($1::bigint[], $2::text[]) AS t(id, label)`,
      [ids, labels, modelVersion],
    );
    if (to % (batch * 5) < batch || to === total) {
      console.error(
        `  inserted ${to.toLocaleString('en')} / ${total.toLocaleString('en')} (${((performance.now() - started) / 1000).toFixed(0)} s)`,
      );
    }
  }
  await db.query(
    `INSERT INTO image_stats (image_id, impressions, clicks, saves)
     SELECT id, 100, id % 7, id % 3 FROM images WHERE id % 10 = 0`,
  );
  await db.query('ANALYZE');
  return (performance.now() - started) / 1000;
}

/** One line per calibrated shard: the recall@k its build measured at each nprobe, and what it chose. */
function calibrationMarkdown(shards: { shard: number; calibration: NprobeCalibration | null }[]): string {
  const lines = shards.flatMap(({ shard, calibration: c }) =>
    c
      ? [
          `shard ${shard}: ${c.points.map((p) => `${p.nprobe} -> ${p.recall}`).join(', ')}; chose **${c.nprobe}** (ceiling ${c.ceiling})`,
        ]
      : [],
  );
  if (lines.length === 0) return 'nprobe: no tier calibrated one (the 1/8-of-lists rule serves).';
  const { queries, k, target } = shards.find((s) => s.calibration)!.calibration!;
  const rule =
    target === undefined
      ? "the smallest nprobe within 0.005 of the ceiling's"
      : `the smallest nprobe reaching recall ${target} or within 0.005 of the ceiling's`;
  return `nprobe calibrated at build (rebuild/calibrate-nprobe.ts: ${queries} stored rows as queries, recall@${k} of the serving path against exact, ${rule}, x2 for text queries): ${lines.join('; ')}.`;
}

async function main() {
  const model = values.model as TinyModelVersion;
  if (!TINY_MODEL_VERSIONS.includes(model))
    throw new Error(`Expected --model to be one of ${TINY_MODEL_VERSIONS.join(', ')} but received ${model}`);
  // a directory: the generated models other than v1, v2 and broken have no shipped manifest
  process.env.PIXELFIND_MODEL ??= await ensureTinyModel(model);
  const adminUrl = process.env.DATABASE_URL || DEFAULT_ADMIN_URL;
  const unreachable = await probePostgres(adminUrl);
  if (unreachable)
    console.error(`Postgres at ${adminUrl} unreachable (${unreachable}); falling back to PGlite`);
  const vectorsWanted = values.vectors
    ? positiveInt('vectors', values.vectors)
    : unreachable
      ? 100_000
      : 1_000_000;

  const load = sampleLoad();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'pixelfind-bench-search-'));
  const scratch = unreachable ? null : await createScratchDatabase(adminUrl);
  const database = scratch
    ? `postgres (scratch database ${scratch.name} on ${new URL(adminUrl).host})`
    : 'pglite';
  let cleanup = async () => {
    await scratch?.drop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const config = benchConfig(dataDir, scratch?.url ?? null, {
      INDEXER_IN_PROCESS: 'false',
      SHARD_COUNT: String(settings.shards),
      // the recall canary's exact ground truth reads every vector of record (2 GB at 1M x 512):
      // a run of it during the measured phase would be measured as search latency
      RECALL_CANARY_SCHEDULE: 'off',
    });
    const services = await createServices(config, { nsfw: false, shardTiers: { mainTier, ...tierVariant } });
    const closeServices = cleanup;
    cleanup = async () => {
      await services.close();
      await closeServices();
    };
    const { encoder, cluster } = services;
    console.error(
      `search: ${vectorsWanted.toLocaleString('en')} vectors of ${encoder.dimension} dimensions, ${database}`,
    );

    const words = vocabulary();
    const queries = await encoder.encodeTexts(words);
    const anchorCount = COLOUR_NAMES.length;
    const queryKinds = words.map((_, i) => (i < anchorCount ? 'anchor' : 'between'));
    // the candidates a search asks of the shards (search.service.ts: k = max(topK, 3 * need))
    const servedK = Math.min(1000, Math.max(config.search.topK, 3 * settings.limit));
    const exact = new ExactTopK(queries, servedK);
    const fillSeconds = await fill(
      services.db,
      encoder.modelVersion,
      words,
      queries.slice(0, anchorCount),
      vectorsWanted,
      settings.batch,
      exact,
    );
    console.error(`  rebuilding the shards' main tiers`);
    const rebuildStarted = performance.now();
    const rebuild = await cluster.rebuild(encoder.modelVersion);
    const rebuildSeconds = (performance.now() - rebuildStarted) / 1000;
    const failed = rebuild.filter((r) => r.error);
    if (failed.length > 0) throw new Error(`Rebuild failed: ${JSON.stringify(failed)}`);
    const shardStats = (await cluster.stats()).shards.map((s) => {
      const stats = s.replicas[0]?.stats?.modelVersions.find((m) => m.modelVersion === encoder.modelVersion);
      return {
        shard: s.index,
        mainKind: stats?.main?.kind ?? 'none',
        mainFactory: stats?.main?.factory ?? 'none',
        mainVectors: stats?.main?.vectors ?? 0,
        hotVectors: stats?.hot.vectors ?? 0,
        memoryBytes: stats?.main?.memoryBytes ?? 0,
        nprobe: stats?.main?.nprobe ?? null,
        calibration: stats?.main?.nprobeCalibration ?? null,
        rebuildMs: rebuild.find((r) => r.shard === s.index)?.outcome?.durationMs ?? null,
      };
    });
    console.error(`  shards: ${JSON.stringify(shardStats)}`);

    const servedNprobe = [...new Set(shardStats.map((s) => s.nprobe ?? 'none'))].join(', ');
    const recall = await servedRecall(
      (query, nprobe) => cluster.search(encoder.modelVersion, query, servedK, nprobe ? { nprobe } : {}),
      queries,
      exact,
      servedK,
      settings.limit,
      recallNprobes,
      queryKinds,
    );
    console.error(`  recall: ${JSON.stringify(recall)}`);

    const server = await startServer(services);
    const stages = recordStages(services);
    const inputs = words.map((text) => ({ input: { text, limit: settings.limit } }));
    const drive = (total: number, concurrency: number) =>
      new Promise<LoadReport>((resolve, reject) => {
        const worker = new Worker(new URL('./support/http-load-worker.mjs', import.meta.url), {
          workerData: {
            url: server.url,
            query: SEARCH,
            variables: inputs,
            total,
            concurrency,
            limit: settings.limit,
          },
        });
        worker.once('message', (report: LoadReport) => resolve(report));
        worker.once('error', reject);
      });

    // every distinct query once: its embedding is in the cache from now on
    await drive(words.length, 1);
    await drive(settings.warmup, settings.concurrency);
    stages.reset();
    console.error(`  measuring ${settings.requests} requests at concurrency ${settings.concurrency}`);
    // background work (lifecycle polls, jobs, shard catch-up) sends statements too: its rate
    // over an idle window is subtracted from the measured phase's count
    const idleBefore = services.db.statementCount;
    await new Promise((resolve) => setTimeout(resolve, IDLE_WINDOW_MS));
    const idlePerSecond = (services.db.statementCount - idleBefore) / (IDLE_WINDOW_MS / 1000);
    await services.queryLog.flush();
    const statementsBefore = services.db.statementCount;
    const pathsBefore = await hydratePaths(services);
    const cpu = cpuMeter();
    const report = await drive(settings.requests, settings.concurrency);
    const measuredCpu = cpu.stop(settings.requests);
    // the query log's batched inserts of these searches count too
    await services.queryLog.flush();
    const measuredStatements = services.db.statementCount - statementsBefore;
    const pathsAfter = await hydratePaths(services);
    const hydrate = Object.fromEntries(
      (['page', 'full', 'recheck'] as const).map((path) => [
        path,
        (pathsAfter[path] ?? 0) - (pathsBefore[path] ?? 0),
      ]),
    ) as Record<'page' | 'full' | 'recheck', number>;
    const background = idlePerSecond * report.seconds;
    const statementsPerSearch = {
      all: Math.round((measuredStatements / settings.requests) * 1000) / 1000,
      net: Math.round(((measuredStatements - background) / settings.requests) * 1000) / 1000,
      backgroundPerSecond: Math.round(idlePerSecond * 10) / 10,
    };
    const measuredSeconds = report.seconds;
    const { ms: clientMs, errors, shortPages } = report;
    const loadSummary = load.stop();
    await server.close();

    const endToEnd = summarise(clientMs);
    const server_ = summarise(stages.tookMs);
    const perStage: Record<string, Summary> = {};
    for (const stage of ['encode', 'fanout', 'hydrate', 'rerank'] as const) {
      perStage[stage] = summarise(stages.stages.map((s) => s[stage]));
    }
    const targetMet = errors === 0 && endToEnd.p99 < 50;
    const kinds = [...new Set(shardStats.map((s) => `${s.mainKind} (${s.mainFactory})`))].join(', ');
    const stamp = runStamp('bench:search', loadSummary);
    const json = {
      ...stamp,
      configuration: {
        database,
        cache: services.cache.kind,
        modelVersion: encoder.modelVersion,
        dimension: encoder.dimension,
        vectors: vectorsWanted,
        shards: `${settings.shards} in-process`,
        tierVariant,
        topK: config.search.topK,
        shardDeadlineMs: config.shards.deadlineMs,
        concurrency: settings.concurrency,
        requests: settings.requests,
        warmupRequests: settings.warmup + words.length,
        limit: settings.limit,
        distinctQueries: words.length,
        queryEmbeddings: 'cached (every distinct query ran once before measuring)',
        vectorModel: `groups of ~${CORPUS.groupSize} around the ${anchorCount} colour words' text embeddings: group angle from its word (pi/2) U^(1/${CORPUS.intrinsicDimension}), members = group centre + Gaussian noise (norm ~${CORPUS.memberSpread}), normalised; seed ${CORPUS.seed}`,
        queryKinds: `anchor: the ${anchorCount} colour words (the corpus's anchors); between: the ${words.length - anchorCount} two-colour phrases (no group around them)`,
        client:
          'node:http (one keep-alive connection per concurrent client) in a worker thread of the bench process, JSON POST to /graphql',
      },
      setup: {
        fillSeconds: Math.round(fillSeconds),
        rebuildSeconds: Math.round(rebuildSeconds),
        shards: shardStats,
      },
      results: {
        throughputPerSecond: Math.round((clientMs.length / measuredSeconds) * 10) / 10,
        measuredSeconds: Math.round(measuredSeconds * 10) / 10,
        measuredPhaseCpu: {
          processCpuPercent: measuredCpu.processCpuPercent,
          cpuMsPerRequest: measuredCpu.cpuMsPerUnit,
        },
        postgresStatementsPerSearch: statementsPerSearch,
        hydratePaths: { ...hydrate, factsCacheSeconds: config.search.factsCache.ttlSeconds },
        servedRecall: recall,
        errors,
        firstError: report.firstError,
        partialAnswers: stages.partial,
        shortPages,
        endToEndMs: endToEnd,
        serverTookMs: server_,
        stagesMs: perStage,
        target: { p99MsUnder: 50, met: targetMet },
      },
    };
    const row = (name: string, s: Summary) => [name, s.count, s.mean, s.p50, s.p90, s.p99, s.max];
    const md = `# Search benchmark: GraphQL search over HTTP

${stampMarkdown(stamp)}
The client (node:http with keep-alive, in a worker thread), the API and the shards share the same 2 cores (one process); Postgres runs on the same machine.

Configuration: ${vectorsWanted.toLocaleString('en')} synthetic vectors of dimension ${encoder.dimension} (the generated tiny model \`${encoder.modelVersion}\`;
${encoder.dimension === 512 ? "512-d, the size of ViT-B/32's embeddings" : 'the real ViT-B/32 is 512-d'}), ${database}, ${services.cache.kind} cache, ${settings.shards} in-process shards,
top-K ${config.search.topK}, limit ${settings.limit}. ${settings.requests} measured requests at concurrency ${settings.concurrency} after
${words.length + settings.warmup} unmeasured ones; ${words.length} distinct text queries (colour words and halves), their
embeddings cached.

Corpus: groups of ~${CORPUS.groupSize} images (near-duplicates, a scene, a subject) around the ${anchorCount} colour words' text embeddings; a
group's centre sits at an angle (pi/2) U^(1/${CORPUS.intrinsicDimension}) from its word (U uniform: few groups close, ever more as the angle
grows, as on data of intrinsic dimension ${CORPUS.intrinsicDimension}), members = centre + Gaussian noise of norm ${CORPUS.memberSpread}, normalised; seed ${CORPUS.seed}. So a
query's similarity to the corpus has a sparse upper tail, as in real CLIP data. The first version of this bench drew every vector
as a word embedding plus isotropic noise and queried the words: every vector of a word then sat at the same similarity to it, a band
of ~n/40 vectors within 0.02, below a 4-bit PQ code's error, and its served recall (~0.39 at any nprobe) measured the data, not the
index. Queries: "anchor", the ${anchorCount} colour words; "between", the ${words.length - anchorCount} two-colour phrases, around which no group was drawn (cosine 0.66 to
each of their two words). Every hit shows the image's fields and its tags; one Postgres statement per search hydrates it: the gate and ranking
facts of every candidate and the display fields and tags of the page (search.repository.ts#pageOf), or, when every candidate's facts are
in the API's facts cache (search/facts-cache.ts, SEARCH_FACTS_CACHE_SECONDS=${config.search.factsCache.ttlSeconds}), the page's rows alone, gated again in SQL (#gatedPageOf).
Background jobs run as in production (drift, stats aggregation, rebuild checks) except the recall canary, whose exact
ground truth reads every vector of record: it is off for the run.

${
  Object.keys(tierVariant).length > 0
    ? `**A variant of the shard defaults**: ${Object.entries(tierVariant)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')} (the whole search's; the default run is [search.md](search.md)).\n\n`
    : ''
}Main tier that served: **${kinds}** on every shard (${shardStats.map((s) => `shard ${s.shard}: ${s.mainVectors.toLocaleString('en')} vectors, ${s.hotVectors} hot`).join('; ')}).
Set-up: rows inserted in ${Math.round(fillSeconds)} s, main tiers rebuilt from \`embeddings\` in ${Math.round(rebuildSeconds)} s.
${calibrationMarkdown(shardStats)}

${table(['ms', 'count', 'mean', 'p50', 'p90', 'p99', 'max'], [row('end to end (client)', endToEnd), row('server (tookMs)', server_), ...Object.entries(perStage).map(([k, s]) => row(`stage: ${k}`, s))], [1, 2, 3, 4, 5, 6])}

Served recall (the ANN candidates the shards return for a search, before the gate and re-ranking; every
bench image is admissible, so the exact neighbours are what a perfect index would serve): each of the ${recall.queries} query
embeddings searched through the cluster client with k = ${recall.k}, one at a time before the load phase (after one uncounted pass), against an exact
search of every vector (FAISS Flat over each inserted batch, merged). recall@${recall.k}: share of the exact top ${recall.k} among the
candidates; recall@${recall.limit}: share of the exact top ${recall.limit} among the ${recall.limit} most similar candidates (the page before re-ranking).
**Served (shard default nprobe ${servedNprobe}): recall@${recall.k} ${recall.points[0]!.recallAtK}, recall@${recall.limit} ${recall.points[0]!.recallAtLimit}.**

${table(
  [
    'nprobe per shard',
    `recall@${recall.k}`,
    `recall@${recall.limit}`,
    `anchor @${recall.k}`,
    `anchor @${recall.limit}`,
    `between @${recall.k}`,
    `between @${recall.limit}`,
    'ms per search (one at a time)',
    'partial answers',
  ],
  recall.points.map((p) => [
    p.nprobe === null ? `served default (${servedNprobe})` : p.nprobe,
    p.recallAtK,
    p.recallAtLimit,
    p.byKind.anchor?.recallAtK ?? '',
    p.byKind.anchor?.recallAtLimit ?? '',
    p.byKind.between?.recallAtK ?? '',
    p.byKind.between?.recallAtLimit ?? '',
    p.meanMs,
    p.partial,
  ]),
  [1, 2, 3, 4, 5, 6, 7, 8],
)}

Hydrate paths during the measured phase (search.service.ts#hydrate): page only ${hydrate.page}, every candidate ${hydrate.full}, page refused then every candidate ${hydrate.recheck}${
      hydrate.page > 0
        ? `. With ${words.length} distinct queries every candidate is cached after the warm-up: this measures the cached path, which a stream of mostly new
queries would take far less often (SEARCH_FACTS_CACHE_SECONDS=0 measures the other)`
        : ''
    }.

Postgres statements per search during the measured phase: ${statementsPerSearch.net} net of background work (${statementsPerSearch.all} in all; the
background sent ${statementsPerSearch.backgroundPerSecond} statements/s over a ${IDLE_WINDOW_MS / 1000} s idle window; the query log's batched inserts included).
Throughput: ${json.results.throughputPerSecond} requests/s. During the measured phase this process (client thread, API and shards;
not Postgres) used ${measuredCpu.processCpuPercent}% of the machine's CPU, ${measuredCpu.cpuMsPerUnit} CPU ms per request. Errors: ${errors}; partial answers: ${stages.partial}; pages short of ${settings.limit} hits: ${shortPages}.
"end to end" is measured by the client: request, GraphQL execution, tag loading, JSON, response. "server" is
SearchOutcome.tookMs (encode to re-rank, before GraphQL resolves the hit fields).

**Target p99 < 50 ms end to end: ${targetMet ? 'met' : 'not met'}** (p99 ${endToEnd.p99} ms).

Plot: [${resultsName}.svg](${resultsName}.svg), the latency CDF end to end and on the server.
`;
    // the latency CDF, end to end and on the server: the share of requests answered within x ms
    const cdf = (ms: number[]): [number, number][] => {
      const sorted = [...ms].sort((a, b) => a - b);
      const step = Math.max(1, Math.floor(sorted.length / 200));
      const points: [number, number][] = [];
      for (let i = 0; i < sorted.length; i += step) points.push([sorted[i]!, (i + 1) / sorted.length]);
      points.push([sorted.at(-1)!, 1]);
      return points;
    };
    const svg = lineChartSvg(
      [
        { name: 'end to end (client)', points: cdf(clientMs) },
        { name: 'server (tookMs)', points: cdf(stages.tookMs) },
      ],
      {
        title: `Search latency CDF (${vectorsWanted.toLocaleString('en')} x ${encoder.dimension}-d, concurrency ${settings.concurrency}, load ${loadSummary.mean})`,
        xLabel: 'ms',
        yLabel: 'share of requests',
        xLog: true,
        yLines: [{ y: 0.99, label: 'p99' }],
      },
    );
    await writeFile(path.join(RESULTS_DIR, `${resultsName}.svg`), svg);
    const written = await writeResults(resultsName, json, md);
    console.error(md);
    console.error(`wrote ${written.join(', ')}`);
  } finally {
    await cleanup();
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
