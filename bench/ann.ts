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
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { faissBuild } from '../search-cluster/src/faiss/faiss-index.ts';
import { annData, sequentialIds } from '../search-cluster/src/faiss/synthetic.ts';
import { VectorFile, writeVectorFile } from '../search-cluster/src/faiss/vector-file.ts';
import { type BuildContext, buildFaiss, buildPeers, buildRescoredFamilies } from './ann/builds.ts';
import { flatBaseline } from './ann/flat.ts';
import { type Build, writeAnnReport } from './ann/report.ts';
import { annSettings } from './ann/settings.ts';
import { sweepRows } from './ann/sweeps.ts';
import { log } from './support/machine.ts';

const settings = annSettings();
const {
  n: N,
  queries: NQ,
  dim: DIM,
  k: K,
  seed: SEED,
  clusters: CLUSTERS,
  m: M,
  efConstruction: EF_CONSTRUCTION,
  nlist: NLIST,
  repeats: REPEATS,
  flatQueries: FLAT_QUERIES,
} = settings;
const builds: Build[] = [];

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
  spread: Number(settings.spread),
  textShift: Number(settings.textShift),
  families: settings.dataFamilies,
});
const ids = sequentialIds(N);

/** The method text's words for `--data-families`. */
function dataFamiliesNote(levels: readonly number[]): string {
  if (levels.length === 0) return '; the centres independent random directions';
  return `; the centres themselves drawn around ${levels.map((n) => n.toLocaleString('en')).join(', then around ')} coarser centres (noise norm 1 at each level)`;
}
log('data generated');

const workDir = await mkdtemp(join(tmpdir(), 'pixelfind-ann-'));
// An interrupted run leaves no index files behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    rmSync(workDir, { recursive: true, force: true });
    process.exit(130);
  });
}
try {
  // FAISS Flat is also the ground truth
  const flat = await flatBaseline(settings, base, ids, querySets, builds);
  const vectorPath = join(workDir, 'vectors.bin');
  await writeVectorFile(vectorPath, DIM, base, ids);
  const vectorFile = VectorFile.open(vectorPath);
  const vectorNote = `full vectors (${DIM * 4 + 8} B/vector) in a memory-mapped file on disk`;

  // ---------------------------------------------------------------- builds
  const context: BuildContext = { settings, base, ids, builds };
  const hnsw = settings.families.has('hnsw') ? await buildFaiss(context, `HNSW${M}`, `HNSW${M}`) : undefined;
  const rescored = await buildRescoredFamilies(context, vectorNote);
  const peers = await buildPeers(context, workDir);

  // ---------------------------------------------------------------- searches
  const rows = [
    ...flat.rows,
    ...(await sweepRows(settings, { querySets, truth: flat.truth, hnsw, peers, rescored, vectorFile })),
  ];
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
    outDir: settings.out,
    threads: settings.threads,
    skipPeers: settings.skipPeers,
    hnswIndex: `HNSW${M}`,
    parameters: {
      repeats: REPEATS,
      n: N,
      queries: NQ,
      dimension: DIM,
      k: K,
      seed: SEED,
      clusters: CLUSTERS,
      dataFamilies: settings.dataFamilies.join(','),
      spread: Number(settings.spread),
      textShift: Number(settings.textShift),
      M,
      efConstruction: EF_CONSTRUCTION,
      nlist: NLIST,
      pq: settings.pq,
      fastScanNlist: settings.fastScanNlist,
      fastScanPq: settings.fastScanPq.join(','),
      candidates: settings.candidates,
      flatQueries: FLAT_QUERIES,
      flatBytesPerVector: flat.flatBytes / N,
    },
    method:
      `Data: ${N} seeded synthetic ${DIM}-d unit vectors around ${CLUSTERS} cluster centres (noise norm ${settings.spread} ` +
      `relative to the centre, ${(N / CLUSTERS).toFixed(0)} vectors per cluster, ${(CLUSTERS / NLIST).toFixed(0)}x more ` +
      `clusters than IVF lists${dataFamiliesNote(settings.dataFamilies)}); ${NQ} image queries from the same centres; ${NQ} text queries from the same centres ` +
      `shifted by a common offset of norm ${settings.textShift}. Ground truth by exact inner-product search; ` +
      `recall@${K}. Queries are sent one at a time; "threads" is the number of queries in flight (FAISS: concurrent ` +
      'promises on the libuv pool, one OpenMP thread each; hnswlib-node and usearch search synchronously, so each ' +
      'thread is a worker thread with its own copy or memory map of the saved index). Latencies include the async ' +
      `round trip for FAISS and exclude number[] conversion for hnswlib-node. Flat is timed on ${FLAT_QUERIES} queries. ` +
      `HNSW: M/connectivity ${M} and efConstruction/expansion_add ${EF_CONSTRUCTION} for all three libraries. ` +
      '"+ re-score": the index gives a short list (IVF: `candidates` ids; HNSW over SQ8: its whole efSearch queue) ' +
      'that exact inner products with the full vectors, memory-mapped from a file, re-rank (search and re-score in one native call per ' +
      'query, on one pool thread, timed together). ' +
      `Each sweep point runs ${REPEATS} times after a short warm-up; the fastest run is reported.`,
    rows,
    builds,
  });
} finally {
  await rm(workDir, { recursive: true, force: true });
}
