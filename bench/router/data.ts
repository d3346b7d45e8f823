import { FaissIndex, faissBuild, setFaissThreads } from '../../search-cluster/src/faiss/faiss-index.ts';
import { clusteredUnitVectors } from '../../search-cluster/src/faiss/synthetic.ts';
import { AUDIT_FIRST } from '../../search-cluster/src/router/probe-audit.ts';
import { clusteredData } from '../support/data.ts';
import { log } from '../support/machine.ts';
import type { Settings } from './settings.ts';

/** The seeded vectors every router is filled with, the queries, and their exact top k. */
export interface BenchData {
  base: Float32Array;
  ids: BigInt64Array;
  queryList: Float32Array[];
  /** Exact FAISS Flat top-k ids of every query over all vectors, k per query. */
  truth: BigInt64Array;
  /**
   * Other queries from the same centres for the warm-up: the clustered routers' probe audit
   * (probe-audit.ts) learns its slack from them, not from the measured queries.
   */
  warmList: Float32Array[];
}

export async function benchData(settings: Settings): Promise<BenchData> {
  const { n, dim, queries, k, clusters, families, shards } = settings;
  log(
    `n=${n} dim=${dim} queries=${queries} k=${k} clusters=${clusters} families=${families ?? 'none'} shards=1 vs ${shards} faiss=${faissBuild().label}`,
  );
  const set = clusteredData({ ...settings, families: families ?? undefined });
  const warm = clusteredUnitVectors({
    count: AUDIT_FIRST,
    dimension: dim,
    clusters,
    seed: settings.seed + 2,
    centreSeed: settings.seed,
    ...(families === null ? {} : { families }),
  });
  setFaissThreads(0);
  const exact = FaissIndex.create(dim, 'Flat');
  await exact.add(set.base, set.ids);
  const truth = (await exact.search(set.queries, k)).ids;
  exact.close();
  log('data and ground truth ready');
  return {
    base: set.base,
    ids: set.ids,
    queryList: set.queryList,
    truth,
    warmList: Array.from({ length: AUDIT_FIRST }, (_, q) => warm.subarray(q * dim, (q + 1) * dim)),
  };
}
