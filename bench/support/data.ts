import { clusteredUnitVectors, sequentialIds } from '../../search-cluster/src/faiss/synthetic.ts';

/**
 * The router and filter benches' seeded data: `n` unit vectors of `dim` around `clusters` centres
 * with ids 1..n, and `queries` vectors drawn around the same centres (one array, and one view
 * per query).
 */
export function clusteredData(o: {
  n: number;
  queries: number;
  dim: number;
  clusters: number;
  seed: number;
  /** Centres drawn around this many family centres (synthetic.ts); default none. */
  families?: number | undefined;
}) {
  const families = o.families === undefined ? {} : { families: o.families };
  const base = clusteredUnitVectors({
    count: o.n,
    dimension: o.dim,
    clusters: o.clusters,
    seed: o.seed,
    ...families,
  });
  const queries = clusteredUnitVectors({
    count: o.queries,
    dimension: o.dim,
    clusters: o.clusters,
    seed: o.seed + 1,
    centreSeed: o.seed,
    ...families,
  });
  const queryList = Array.from({ length: o.queries }, (_, q) => queries.subarray(q * o.dim, (q + 1) * o.dim));
  return { base, ids: sequentialIds(o.n, 1n), queries, queryList };
}
