import { dotAt } from '../vector-math.ts';
import { cellBudget, type FilterSettings, filterPath, scaledParam } from './filter-plan.ts';
import type { HotTier } from './hot-tier.ts';
import type { MainTier } from './main-tier.ts';
import type { SearchOptions } from './model-index.types.ts';
import { type Hit, mergeTopK, TopK } from './topk.ts';
import type { VectorIndexFactory } from './vector-index.ts';

/** Filtered search: what it reads of one model version's two tiers. */
export interface TierView {
  dimension: number;
  hot: HotTier;
  /** The current main tier (it changes at every swap). */
  main(): MainTier | null;
  /** Is `id` searchable right now? */
  isLive(id: bigint): boolean;
  /** Builds a main tier's filter cells. */
  factory: VectorIndexFactory;
  filter: FilterSettings;
}

export const EMPTY = (nq: number): Hit[][] => Array.from({ length: nq }, () => []);

/** One filtered search call: `nq` queries (rows of the dimension), `k` each, over `allowed`. */
export interface FilteredQuery {
  queries: Float32Array;
  nq: number;
  k: number;
  allowed: BigInt64Array;
}

/**
 * Cells visited at least on the 'cells' path, however few allowed ids the nearest hold: with
 * about sqrt(n) cells of sqrt(n) rows, 16 of them cover the query's neighbourhood on clustered
 * data even when the allowed ids are spread thin.
 */
const MIN_CELLS = 16;

/** Hot rows tested natively per allowed id looked up in JS, at which both cost about the same. */
const HOT_NATIVE_RATIO = 16;

/**
 * Best `k` allowed, live hits per query over both tiers, by the path filter-plan.ts picks for
 * the number of allowed ids. `main` is held (acquired) by the caller. Every hit is checked
 * against liveness after the last await, so an id deleted meanwhile is never returned, and only
 * ids in `allowed` are ever scored or returned on any path.
 */
export async function filteredSearch(
  tiers: TierView,
  main: MainTier | null,
  search: FilteredQuery,
  options: SearchOptions,
): Promise<Hit[][]> {
  const { nq, k, allowed } = search;
  const vectors = tiers.hot.size + (main?.liveCount ?? 0);
  const path = filterPath(allowed.length, vectors, tiers.filter);
  const [fromHot, fromMain] = await Promise.all([
    hotHits(tiers, search),
    !main || main.liveCount === 0
      ? EMPTY(nq)
      : path === 'ann'
        ? annHits(main, search, options, vectors)
        : scanMain(tiers, main, search),
  ]);
  const results: Hit[][] = [];
  for (let q = 0; q < nq; q++) {
    const mainLive = fromMain[q]!.filter((h) => !main!.deleted.has(h.id));
    results.push(mergeTopK([fromHot[q]!, mainLive], k).filter((h) => tiers.isLive(h.id)));
  }
  if (path === 'ann') await topUpFiltered(tiers, search, results);
  return results;
}

/** Exact top k of the allowed ids in the hot tier (Flat, the default hot factory, is exact). */
async function hotHits(tiers: TierView, { queries, nq, k, allowed }: FilteredQuery): Promise<Hit[][]> {
  const hot = tiers.hot;
  if (hot.size === 0) return EMPTY(nq);
  // The native search with a selector tests every hot row against the set (a few ns each) and
  // scores the members off the event loop; here each allowed id costs a map lookup and its score
  // runs on the event loop. Native wins unless the filter is a small fraction of the hot tier.
  if (allowed.length * HOT_NATIVE_RATIO > hot.size) return hot.search(queries, nq, k, allowed);
  const d = tiers.dimension;
  const ids: bigint[] = [];
  const vectors: Float32Array[] = [];
  const seen = new Set<bigint>();
  for (const id of allowed) {
    const entry = hot.entries.get(id);
    if (!entry || seen.has(id)) continue;
    seen.add(id);
    ids.push(id);
    vectors.push(entry.vector);
  }
  const results: Hit[][] = [];
  for (let q = 0; q < nq; q++) {
    const top = new TopK(k);
    for (let i = 0; i < ids.length; i++)
      top.push(ids[i]!, Math.fround(dotAt(queries, q * d, vectors[i]!, 0, d)));
    results.push(top.result());
  }
  return results;
}

/**
 * Exact scores of the main tier's live allowed rows: all of them up to the scan budget, else
 * those of the filter cells nearest each query until the cell budget (filter-plan.ts) is scored.
 */
async function scanMain(
  tiers: TierView,
  main: MainTier,
  { queries, nq, k, allowed }: FilteredQuery,
): Promise<Hit[][]> {
  const d = tiers.dimension;
  const rows = main.liveRowsOf(allowed);
  if (rows.length === 0) return EMPTY(nq);
  const query = (q: number) => queries.subarray(q * d, q * d + d);
  if (rows.length <= tiers.filter.scanBudget) {
    return Promise.all(Array.from({ length: nq }, (_, q) => main.scoreRows(query(q), rows, k)));
  }
  const scan = (await main.filterCells(tiers.factory)).scan(
    rows,
    cellBudget(rows.length, tiers.filter),
    MIN_CELLS,
    k,
  );
  return Promise.all(Array.from({ length: nq }, (_, q) => main.scoreCells(query(q), scan, k)));
}

/** The main tier's ANN search with an id selector, its parameters grown by 1 / allowed share. */
function annHits(
  main: MainTier,
  { queries, nq, k, allowed }: FilteredQuery,
  options: SearchOptions,
  vectors: number,
): Promise<Hit[][]> {
  return main.search(queries, nq, k, {
    allowedIds: allowed,
    efSearch: scaledParam(options.efSearch ?? main.params.efSearch, allowed.length, vectors),
    nprobe: scaledParam(options.nprobe ?? main.params.nprobe, allowed.length, vectors),
  });
}

/**
 * An ANN search with an id selector can come back short (HNSW leaves the allowed region, IVF
 * probes lists without allowed ids). When more allowed ids are live than were found, scan them
 * exactly so k results come back whenever k exist.
 */
async function topUpFiltered(
  tiers: TierView,
  { queries, k, allowed }: FilteredQuery,
  results: Hit[][],
): Promise<void> {
  const short = results.flatMap((hits, q) => (hits.length < k ? [q] : []));
  if (short.length === 0) return;
  let live = 0;
  for (let i = 0; i < allowed.length && live < k; i++) if (tiers.isLive(allowed[i]!)) live++;
  const d = tiers.dimension;
  for (const q of short) {
    if (results[q]!.length >= live) continue;
    const main = tiers.main();
    main?.acquire();
    try {
      const query = queries.subarray(q * d, q * d + d);
      const [fromHot, fromMain] = await Promise.all([
        hotHits(tiers, { queries: query, nq: 1, k, allowed }),
        main ? main.scoreRows(query, main.liveRowsOf(allowed), k) : [],
      ]);
      results[q] = mergeTopK([fromHot[0]!, fromMain], k).filter((h) => tiers.isLive(h.id));
    } finally {
      main?.release();
    }
  }
}
