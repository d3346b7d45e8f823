import { FaissIndex, setFaissThreads } from '../../search-cluster/src/faiss/faiss-index.ts';
import { log } from '../support/machine.ts';
import type { Build, QuerySet, Row } from './report.ts';
import type { AnnSettings } from './settings.ts';
import { recordRow, timeFaiss } from './trials.ts';

/**
 * FAISS Flat over every vector: the ground truth of both query sets, and its own timed rows on
 * the first `--flat-queries` queries. Returns the truth, the rows and Flat's resident bytes.
 */
export async function flatBaseline(
  settings: AnnSettings,
  base: Float32Array,
  ids: BigInt64Array,
  querySets: Record<QuerySet, Float32Array>,
  builds: Build[],
): Promise<{ truth: Record<QuerySet, BigInt64Array>; rows: Row[]; flatBytes: number }> {
  const { n: N, dim: DIM, k: K, threads: THREADS, flatQueries: FLAT_QUERIES } = settings;
  const truth = {} as Record<QuerySet, BigInt64Array>;
  const rows: Row[] = [];
  setFaissThreads(2);
  const started = performance.now();
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
      const timed = await timeFaiss(
        (q) => flat.search(q, K),
        querySets[set],
        FLAT_QUERIES,
        threads,
        settings,
      );
      rows.push(
        recordRow(
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
          K,
        ),
      );
    }
  }
  const flatBytes = flat.memoryBytes;
  flat.close();
  return { truth, rows, flatBytes };
}
