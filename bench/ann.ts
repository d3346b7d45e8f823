/**
 * ANN benchmark (issues 5 and 14): our FAISS addon (Flat; HNSW; and compressed indexes with an
 * exact re-score from memory-mapped full vectors: IVF-PQ, IVF-PQ fast scan, HNSW over 8-bit scalar
 * quantised vectors) against hnswlib-node and usearch with matching parameters, on seeded synthetic
 * clustered unit vectors, for image-like queries and for shifted "text" queries, with one and with
 * two search threads.
 *
 *   npm run bench:ann -- --n 200000 --queries 1000
 *
 * Writes bench/results/ann.md, ann.json (with the command line) and ann.svg (recall against QPS).
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import hnswlib from 'hnswlib-node';
import { MetricKind, ScalarKind, Index as UsearchIndex } from 'usearch';
import { FaissIndex, faissBuild, setFaissThreads } from '../search-cluster/src/faiss/faiss-index.ts';
import { annData, recallAtK, sequentialIds } from '../search-cluster/src/faiss/synthetic.ts';
import {
  type RescoredSearchOptions,
  searchRescored,
  VectorFile,
  writeVectorFile,
} from '../search-cluster/src/faiss/vector-file.ts';
import { type Build, type QuerySet, type Row, writeAnnReport } from './ann-report.ts';
import { numberList, syntheticDataFlags, syntheticDataSettings } from './support/flags.ts';
import { log } from './support/machine.ts';
import { percentile } from './support/stats.ts';

const { values: flags } = parseArgs({
  options: {
    ...syntheticDataFlags({ n: '1000000', dim: '512' }),
    spread: { type: 'string', default: '1' },
    'text-shift': { type: 'string', default: '1.5' },
    threads: { type: 'string', default: '1,2' },
    m: { type: 'string', default: '32' },
    'ef-construction': { type: 'string', default: '40' },
    ef: { type: 'string', default: '16,24,32,40,48,64,128' },
    nlist: { type: 'string' },
    pq: { type: 'string', default: '64' },
    nprobe: { type: 'string', default: '8,16,32,64,128,256,512' },
    candidates: { type: 'string', default: '100' },
    /** IVF-PQ fast scan: one index per entry, 4-bit codes of this many sub-quantisers (default dim/8,dim/4: 32 and 64 bytes at 512-d). */
    'fs-pq': { type: 'string' },
    /** IVF-PQ fast scan: inverted lists (default nlist). */
    'fs-nlist': { type: 'string' },
    'fs-nprobe': { type: 'string', default: '16,32,64,128,256' },
    /** HNSW over SQ8 codes: efSearch sweep; the whole candidate queue (efSearch ids) is re-scored. */
    'sq8-ef': { type: 'string', default: '16,24,32,48,64,96,128' },
    /** Which of our index families to build besides Flat: hnsw, ivfpq, fastscan, sq8. */
    families: { type: 'string', default: 'hnsw,ivfpq,fastscan,sq8' },
    'flat-queries': { type: 'string', default: '200' },
    repeats: { type: 'string', default: '3' },
    'skip-peers': { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results' },
  },
});

const int = (name: keyof typeof flags) => Number.parseInt(String(flags[name]), 10);
const list = (name: keyof typeof flags) => numberList(flags[name]);

const { n: N, queries: NQ, dim: DIM, k: K, seed: SEED, clusters } = syntheticDataSettings(flags);
const M = int('m');
const EF_CONSTRUCTION = int('ef-construction');
const NLIST = flags.nlist ? int('nlist') : 2 ** Math.round(Math.log2(2 * Math.sqrt(N)));
const CLUSTERS = clusters ?? Math.max(10 * NLIST, Math.round(N / 20));
const PQ = int('pq');
const FS_PQ = flags['fs-pq']
  ? list('fs-pq')
  : [Math.max(1, Math.floor(DIM / 8)), Math.max(1, Math.floor(DIM / 4))];
const FS_NLIST = flags['fs-nlist'] ? int('fs-nlist') : NLIST;
const FAMILIES = new Set(String(flags.families).split(','));
for (const family of FAMILIES) {
  if (!['hnsw', 'ivfpq', 'fastscan', 'sq8'].includes(family))
    throw new Error(`Unknown family ${family} (hnsw, ivfpq, fastscan, sq8)`);
}
const CANDIDATES = int('candidates');
const THREADS = list('threads');
const FLAT_QUERIES = Math.min(NQ, int('flat-queries'));
/** Each sweep point runs this many times and keeps the fastest: other work on a shared machine only slows runs down. */
const REPEATS = int('repeats');

const rows: Row[] = [];
const builds: Build[] = [];

function record(
  base: Omit<Row, 'recall' | 'qps' | 'p50Ms' | 'p99Ms' | 'load1'>,
  truth: BigInt64Array,
  { ids: found, latencies, wallMs }: Trial,
  queries: number,
): void {
  const sorted = Float64Array.from(latencies).sort();
  const row: Row = {
    ...base,
    recall: recallAtK(truth.subarray(0, queries * K), found, K),
    qps: (queries / wallMs) * 1000,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    load1: loadavg()[0]!,
  };
  rows.push(row);
  log(
    `${row.library} ${row.index} ${row.params} ${row.queries} t=${row.threads}: recall ${row.recall.toFixed(3)}, ` +
      `${row.qps.toFixed(0)} QPS, p50 ${row.p50Ms.toFixed(2)} ms, p99 ${row.p99Ms.toFixed(2)} ms`,
  );
}

interface Trial {
  ids: BigInt64Array;
  latencies: Float64Array;
  wallMs: number;
}

type Search = (query: Float32Array) => Promise<{ ids: BigInt64Array }>;

/** One timed pass: one query per call, `threads` calls in flight (each FAISS call uses one OpenMP thread). */
async function faissTrial(
  search: Search,
  queries: Float32Array,
  count: number,
  threads: number,
): Promise<Trial> {
  setFaissThreads(1);
  const ids = new BigInt64Array(count * K);
  const latencies = new Float64Array(count);
  let next = 0;
  const loop = async () => {
    while (next < count) {
      const q = next++;
      const started = performance.now();
      const result = await search(queries.subarray(q * DIM, (q + 1) * DIM));
      latencies[q] = performance.now() - started;
      ids.set(result.ids.subarray(0, K), q * K);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: threads }, loop));
  return { ids, latencies, wallMs: performance.now() - started };
}

/** A short warm-up, then the fastest of REPEATS passes. */
async function timeFaiss(
  search: Search,
  queries: Float32Array,
  count: number,
  threads: number,
): Promise<Trial> {
  await faissTrial(search, queries, Math.min(20, count), 1);
  let best: Trial | undefined;
  for (let trial = 0; trial < REPEATS; trial++) {
    const result = await faissTrial(search, queries, count, threads);
    if (!best || result.wallMs < best.wallMs) best = result;
  }
  return best!;
}

// ---------------------------------------------------------------- peer threads

interface WorkerReply {
  latencies: Float64Array;
  ids: BigInt64Array;
  rows: Int32Array;
}

/** `threads` worker threads searching one peer library's saved index (see ann-peer-worker.mjs). */
class PeerPool {
  private constructor(private readonly workers: Worker[]) {}

  static async start(kind: string, path: string, threads: number): Promise<PeerPool> {
    const shared: Record<string, SharedArrayBuffer> = {};
    for (const set of ['image', 'text'] as const) {
      const buffer = new SharedArrayBuffer(querySets[set].byteLength);
      new Float32Array(buffer).set(querySets[set]);
      shared[set] = buffer;
    }
    const workers = await Promise.all(
      Array.from({ length: threads }, (_, worker) => {
        const w = new Worker(new URL('./ann-peer-worker.mjs', import.meta.url), {
          workerData: {
            library: kind,
            path,
            dimension: DIM,
            connectivity: M,
            efConstruction: EF_CONSTRUCTION,
            k: K,
            worker,
            workers: threads,
            querySets: shared,
          },
        });
        return new Promise<Worker>((resolve, reject) => {
          w.once('message', () => resolve(w));
          w.once('error', reject);
        });
      }),
    );
    return new PeerPool(workers);
  }

  /** One timed pass; all threads start together. `limit` makes a short warm-up pass. */
  async trial(ef: number, set: QuerySet, limit?: number): Promise<Trial> {
    await Promise.all(this.workers.map((w) => ask(w, { type: 'run', ef, set, limit })));
    const started = performance.now();
    const parts = await Promise.all(this.workers.map((w) => ask(w, { type: 'go' })));
    const wallMs = performance.now() - started;
    const ids = new BigInt64Array(NQ * K);
    const latencies = new Float64Array(NQ);
    for (const part of parts) {
      part.rows.forEach((q, i) => {
        latencies[q] = part.latencies[i]!;
        ids.set(part.ids.subarray(i * K, (i + 1) * K), q * K);
      });
    }
    return { ids, latencies, wallMs };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function ask(w: Worker, message: unknown): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    w.once('error', onError);
    w.once('message', (reply: WorkerReply) => {
      w.off('error', onError);
      resolve(reply);
    });
    w.postMessage(message);
  });
}

// ---------------------------------------------------------------- data and ground truth

const command = `npm run bench:ann -- ${process.argv.slice(2).join(' ')}`.trim();
log(`${command}`);
log(
  `n=${N} queries=${NQ} dim=${DIM} clusters=${CLUSTERS} nlist=${NLIST} M=${M} efConstruction=${EF_CONSTRUCTION} ` +
    `faiss=${faissBuild().label}`,
);
const { base, querySets } = annData({
  count: N,
  queries: NQ,
  dimension: DIM,
  clusters: CLUSTERS,
  seed: SEED,
  spread: Number(flags.spread),
  textShift: Number(flags['text-shift']),
});
const ids = sequentialIds(N);
log('data generated');

const workDir = await mkdtemp(join(tmpdir(), 'pixelfind-ann-'));
// An interrupted run leaves no index files behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    rmSync(workDir, { recursive: true, force: true });
    process.exit(130);
  });
}
const truth = {} as Record<QuerySet, BigInt64Array>;
try {
  // ---------------------------------------------------------------- FAISS Flat (also the ground truth)
  setFaissThreads(2);
  let started = performance.now();
  const flat = FaissIndex.create(DIM, 'Flat');
  await flat.add(base, ids);
  builds.push({
    library: 'pixelfind-faiss',
    index: 'Flat',
    buildSeconds: (performance.now() - started) / 1000,
    buildThreads: 2,
    bytesPerVector: flat.memoryBytes / N,
  });
  for (const set of ['image', 'text'] as const) {
    truth[set] = (await flat.search(querySets[set], K)).ids;
  }
  log('ground truth by exact search');
  for (const set of ['image', 'text'] as const) {
    for (const threads of THREADS) {
      const timed = await timeFaiss((q) => flat.search(q, K), querySets[set], FLAT_QUERIES, threads);
      record(
        {
          library: 'pixelfind-faiss',
          index: 'Flat',
          params: `exact (${FLAT_QUERIES} queries)`,
          queries: set,
          threads,
        },
        truth[set],
        timed,
        FLAT_QUERIES,
      );
    }
  }
  const flatBytes = flat.memoryBytes;
  flat.close();

  const efs = list('ef');
  const vectorPath = join(workDir, 'vectors.bin');
  await writeVectorFile(vectorPath, DIM, base, ids);
  const vectorFile = VectorFile.open(vectorPath);
  const vectorNote = `full vectors (${DIM * 4 + 8} B/vector) in a memory-mapped file on disk`;

  // ---------------------------------------------------------------- builds
  /** Builds one of our indexes with 2 threads (training on the first `trainSample` rows when it needs it). */
  const buildFaiss = async (factory: string, name: string, note?: string): Promise<FaissIndex> => {
    setFaissThreads(2);
    const started = performance.now();
    const index = FaissIndex.create(DIM, factory, { efConstruction: EF_CONSTRUCTION });
    // IVF: 64 points per list; other trained codes (SQ8's ranges): 65536 rows
    const nlist = Number(/IVF(\d+)/.exec(factory)?.[1] ?? 1024);
    const trainSample = index.isTrained ? 0 : Math.min(N, 64 * nlist);
    if (trainSample > 0) await index.train(base.subarray(0, trainSample * DIM));
    await index.add(base, ids);
    builds.push({
      library: 'pixelfind-faiss',
      index: name,
      buildSeconds: (performance.now() - started) / 1000,
      buildThreads: 2,
      bytesPerVector: index.memoryBytes / N,
      note: [trainSample > 0 ? `trained on ${trainSample} vectors` : '', note].filter(Boolean).join('; '),
    });
    log(`FAISS ${name} built`);
    return index;
  };
  const hnsw = FAMILIES.has('hnsw') ? await buildFaiss(`HNSW${M}`, `HNSW${M}`) : undefined;

  /** A compressed index searched for a short list that the full vectors re-score. */
  interface RescoredFamily {
    index: FaissIndex;
    name: string;
    sweep: Array<{ params: string; options: RescoredSearchOptions }>;
  }
  const rescored: RescoredFamily[] = [];
  const ivfSweep = (nlist: number, nprobes: number[]) =>
    nprobes.map((nprobe) => ({
      params: `nprobe=${nprobe}${nprobe >= nlist ? ' (all lists)' : ''} candidates=${CANDIDATES}`,
      options: { nprobe, candidates: CANDIDATES },
    }));
  if (FAMILIES.has('ivfpq')) {
    const factory = `IVF${NLIST},PQ${PQ}`;
    const name = `${factory} + re-score`;
    rescored.push({
      index: await buildFaiss(factory, name, vectorNote),
      name,
      sweep: ivfSweep(NLIST, list('nprobe')),
    });
  }
  for (const pq of FAMILIES.has('fastscan') ? FS_PQ : []) {
    const factory = `IVF${FS_NLIST},PQ${pq}x4fs`;
    const name = `${factory} + re-score`;
    const index = await buildFaiss(
      factory,
      name,
      `4-bit PQ codes in blocks of 32 (fast scan); ${vectorNote}`,
    );
    rescored.push({ index, name, sweep: ivfSweep(FS_NLIST, list('fs-nprobe')) });
  }
  if (FAMILIES.has('sq8')) {
    const factory = `HNSW${M},SQ8`;
    const name = `${factory} + re-score`;
    const index = await buildFaiss(
      factory,
      name,
      `8-bit scalar-quantised vectors in the graph; ${vectorNote}`,
    );
    // the search returns its whole candidate queue (efSearch ids) and the full vectors re-score it
    const sweep = list('sq8-ef').map((efSearch) => ({
      params: `efSearch=${efSearch} candidates=${Math.max(K, efSearch)}`,
      options: { efSearch: Math.max(K, efSearch), candidates: Math.max(K, efSearch) },
    }));
    rescored.push({ index, name, sweep });
  }

  type Peer = { library: string; kind: 'hnswlib' | 'usearch'; path: string; index: string };
  const peers: Peer[] = [];
  /** A peer library's index, built and saved: its build row (bytes from the saved file) and its search run. */
  const recordPeer = async (peer: Peer, build: Pick<Build, 'buildSeconds' | 'buildThreads' | 'note'>) => {
    builds.push({
      library: peer.library,
      index: peer.index,
      buildSeconds: build.buildSeconds,
      buildThreads: build.buildThreads,
      bytesPerVector: (await stat(peer.path)).size / N,
      note: build.note,
    });
    log(`${peer.library} built`);
    peers.push(peer);
  };
  if (!flags['skip-peers']) {
    const hnswlibPath = join(workDir, 'hnswlib.bin');
    started = performance.now();
    {
      const index = new hnswlib.HierarchicalNSW('ip', DIM);
      index.initIndex(N, M, EF_CONSTRUCTION, 100);
      for (let i = 0; i < N; i++) index.addPoint(Array.from(base.subarray(i * DIM, (i + 1) * DIM)), i);
      const buildSeconds = (performance.now() - started) / 1000;
      index.writeIndexSync(hnswlibPath);
      await recordPeer(
        { library: 'hnswlib-node', kind: 'hnswlib', path: hnswlibPath, index: `HNSW M=${M}` },
        { buildSeconds, buildThreads: 1, note: 'no parallel add in hnswlib-node; bytes from its saved file' },
      );
    }

    const usearchPath = join(workDir, 'usearch.bin');
    started = performance.now();
    {
      const index = new UsearchIndex({
        dimensions: DIM,
        metric: MetricKind.IP,
        quantization: ScalarKind.F32,
        connectivity: M,
        expansion_add: EF_CONSTRUCTION,
        expansion_search: 64,
        multi: false,
      });
      const keys = new BigUint64Array(N);
      for (let i = 0; i < N; i++) keys[i] = BigInt(i);
      index.add(keys, base, 2);
      const buildSeconds = (performance.now() - started) / 1000;
      index.save(usearchPath);
      await recordPeer(
        { library: 'usearch', kind: 'usearch', path: usearchPath, index: `HNSW connectivity=${M}` },
        { buildSeconds, buildThreads: 2, note: 'bytes from its saved file' },
      );
    }
  }

  // ---------------------------------------------------------------- searches
  // The HNSW libraries take turns at every sweep point, trial by trial, so that other work on a
  // shared machine falls on all of them alike.
  for (const threads of THREADS) {
    const pools = await Promise.all(peers.map((peer) => PeerPool.start(peer.kind, peer.path, threads)));
    try {
      for (const set of ['image', 'text'] as const) {
        for (const efSearch of pools.length > 0 || hnsw ? efs : []) {
          const search: Search | undefined = hnsw && ((q) => hnsw.search(q, K, { efSearch }));
          if (search) await faissTrial(search, querySets[set], 20, 1);
          for (const pool of pools) await pool.trial(efSearch, set, 20);
          const names = [
            ...(hnsw
              ? [{ library: 'pixelfind-faiss', index: `HNSW${M}`, params: `efSearch=${efSearch}` }]
              : []),
            ...peers.map((peer) => ({ library: peer.library, index: peer.index, params: `ef=${efSearch}` })),
          ];
          const best: Array<Trial | undefined> = names.map(() => undefined);
          for (let trial = 0; trial < REPEATS; trial++) {
            const results = search ? [await faissTrial(search, querySets[set], NQ, threads)] : [];
            for (const pool of pools) results.push(await pool.trial(efSearch, set));
            results.forEach((result, i) => {
              if (!best[i] || result.wallMs < best[i]!.wallMs) best[i] = result;
            });
          }
          names.forEach((name, i) => {
            record({ ...name, queries: set, threads }, truth[set], best[i]!, NQ);
          });
        }
        for (const family of rescored) {
          for (const point of family.sweep) {
            const timed = await timeFaiss(
              (q) => searchRescored(family.index, vectorFile, q, K, point.options),
              querySets[set],
              NQ,
              threads,
            );
            const row = { library: 'pixelfind-faiss', index: family.name, params: point.params };
            record({ ...row, queries: set, threads }, truth[set], timed, NQ);
          }
        }
      }
    } finally {
      await Promise.all(pools.map((pool) => pool.close()));
    }
  }
  hnsw?.close();
  vectorFile.close();
  for (const family of rescored) family.index.close();

  rows.sort(
    (a, b) =>
      a.library.localeCompare(b.library) ||
      a.index.localeCompare(b.index) ||
      a.queries.localeCompare(b.queries) ||
      a.threads - b.threads,
  );
  await writeAnnReport({
    command,
    outDir: String(flags.out),
    threads: THREADS,
    skipPeers: Boolean(flags['skip-peers']),
    hnswIndex: `HNSW${M}`,
    parameters: {
      repeats: REPEATS,
      n: N,
      queries: NQ,
      dimension: DIM,
      k: K,
      seed: SEED,
      clusters: CLUSTERS,
      spread: Number(flags.spread),
      textShift: Number(flags['text-shift']),
      M,
      efConstruction: EF_CONSTRUCTION,
      nlist: NLIST,
      pq: PQ,
      fastScanNlist: FS_NLIST,
      fastScanPq: FS_PQ.join(','),
      candidates: CANDIDATES,
      flatQueries: FLAT_QUERIES,
      flatBytesPerVector: flatBytes / N,
    },
    method:
      `Data: ${N} seeded synthetic ${DIM}-d unit vectors around ${CLUSTERS} cluster centres (noise norm ${flags.spread} ` +
      `relative to the centre, ${(N / CLUSTERS).toFixed(0)} vectors per cluster, ${(CLUSTERS / NLIST).toFixed(0)}x more ` +
      `clusters than IVF lists); ${NQ} image queries from the same centres; ${NQ} text queries from the same centres ` +
      `shifted by a common offset of norm ${flags['text-shift']}. Ground truth by exact inner-product search; ` +
      `recall@${K}. Queries are sent one at a time; "threads" is the number of queries in flight (FAISS: concurrent ` +
      'promises on the libuv pool, one OpenMP thread each; hnswlib-node and usearch search synchronously, so each ' +
      'thread is a worker thread with its own copy or memory map of the saved index). Latencies include the async ' +
      `round trip for FAISS and exclude number[] conversion for hnswlib-node. Flat is timed on ${FLAT_QUERIES} queries. ` +
      `HNSW: M/connectivity ${M} and efConstruction/expansion_add ${EF_CONSTRUCTION} for all three libraries. ` +
      '"+ re-score": the index gives a short list (IVF: `candidates` ids; HNSW over SQ8: its whole efSearch queue) ' +
      'that exact inner products with the full vectors, memory-mapped from a file, re-rank (two native calls per ' +
      'query, both timed). ' +
      `Each sweep point runs ${REPEATS} times after a short warm-up; the fastest run is reported.`,
    rows,
    builds,
  });
} finally {
  await rm(workDir, { recursive: true, force: true });
}
