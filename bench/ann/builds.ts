import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import hnswlib from 'hnswlib-node';
import { MetricKind, ScalarKind, Index as UsearchIndex } from 'usearch';
import { FaissIndex, setFaissThreads } from '../../search-cluster/src/faiss/faiss-index.ts';
import type { RescoredSearchOptions } from '../../search-cluster/src/faiss/vector-file.ts';
import { log } from '../support/machine.ts';
import type { Build } from './report.ts';
import type { AnnSettings } from './settings.ts';

/** What every build reads and where its row goes. */
export interface BuildContext {
  settings: AnnSettings;
  base: Float32Array;
  ids: BigInt64Array;
  builds: Build[];
}

/** Builds one of our indexes with 2 threads (training on the first `trainSample` rows when it needs it). */
export async function buildFaiss(
  { settings, base, ids, builds }: BuildContext,
  factory: string,
  name: string,
  note?: string,
): Promise<FaissIndex> {
  const { n: N, dim: DIM, efConstruction: EF_CONSTRUCTION } = settings;
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
}

/** A compressed index searched for a short list that the full vectors re-score. */
export interface RescoredFamily {
  index: FaissIndex;
  name: string;
  sweep: Array<{ params: string; options: RescoredSearchOptions }>;
}

/** IVF-PQ, IVF-PQ fast scan and HNSW over SQ8, as `--families` asks; `vectorNote` says where the full vectors are. */
export async function buildRescoredFamilies(
  context: BuildContext,
  vectorNote: string,
): Promise<RescoredFamily[]> {
  const { settings } = context;
  const { k: K, m: M, nlist: NLIST, pq: PQ, fastScanNlist: FS_NLIST, candidates: CANDIDATES } = settings;
  const FAMILIES = settings.families;
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
      index: await buildFaiss(context, factory, name, vectorNote),
      name,
      sweep: ivfSweep(NLIST, settings.nprobe),
    });
  }
  for (const pq of FAMILIES.has('fastscan') ? settings.fastScanPq : []) {
    const factory = `IVF${FS_NLIST},PQ${pq}x4fs`;
    const name = `${factory} + re-score`;
    const index = await buildFaiss(
      context,
      factory,
      name,
      `4-bit PQ codes in blocks of 32 (fast scan); ${vectorNote}`,
    );
    rescored.push({ index, name, sweep: ivfSweep(FS_NLIST, settings.fastScanNprobe) });
  }
  if (FAMILIES.has('sq8')) {
    const factory = `HNSW${M},SQ8`;
    const name = `${factory} + re-score`;
    const index = await buildFaiss(
      context,
      factory,
      name,
      `8-bit scalar-quantised vectors in the graph; ${vectorNote}`,
    );
    // the search returns its whole candidate queue (efSearch ids) and the full vectors re-score it
    const sweep = settings.sq8Ef.map((efSearch) => ({
      params: `efSearch=${efSearch} candidates=${Math.max(K, efSearch)}`,
      options: { efSearch: Math.max(K, efSearch), candidates: Math.max(K, efSearch) },
    }));
    rescored.push({ index, name, sweep });
  }
  return rescored;
}

export type Peer = { library: string; kind: 'hnswlib' | 'usearch'; path: string; index: string };

/** hnswlib-node's and usearch's HNSW over the same vectors, saved in `workDir` for the peer workers. */
export async function buildPeers({ settings, base, builds }: BuildContext, workDir: string): Promise<Peer[]> {
  const { n: N, dim: DIM, m: M, efConstruction: EF_CONSTRUCTION } = settings;
  const peers: Peer[] = [];
  let started: number;
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
  if (!settings.skipPeers) {
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
  return peers;
}
