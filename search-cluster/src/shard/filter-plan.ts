/**
 * How a shard answers a filtered search, from the number of allowed ids and the vectors it holds.
 * The cost of scoring allowed vectors exactly grows with their number; an ANN search with an id
 * selector costs about what an unfiltered one does, but is only right when allowed ids are common
 * near any query (HNSW leaves the allowed region, IVF probes lists holding none), which a share of
 * at least `annMinShare` makes likely whatever shape the filter has.
 * - 'exact': at most `scanBudget` allowed ids: score them all.
 * - 'cells': more, but a share under `annMinShare`: score the allowed ids in the coarse cells
 *   nearest the query until `cellBudget` were scored (filter-cells.ts): `scanShare` of the
 *   allowed rows, at least `scanBudget`. An IVF's recall follows the share of its lists probed, not
 *   a count, so a fixed count loses recall as the allowed set grows (0.85 at 20% of 100k).
 * - 'ann': the tier's ANN search with an id selector, its efSearch and nprobe divided by the share.
 */
export type FilterPath = 'exact' | 'cells' | 'ann';

export interface FilterSettings {
  /** Allowed vectors scored exactly per query at most (about: cells are taken whole). */
  scanBudget: number;
  /** Share of the shard's vectors allowed from which the ANN search with a selector is used. */
  annMinShare: number;
  /** Share of the allowed rows the 'cells' path scores (at least `scanBudget`). */
  scanShare: number;
}

/** Rows the 'cells' path scores per query, of `allowedRows` allowed live main-tier rows. */
export function cellBudget(allowedRows: number, settings: FilterSettings): number {
  return Math.max(settings.scanBudget, Math.ceil(settings.scanShare * allowedRows));
}

export function filterPath(allowed: number, vectors: number, settings: FilterSettings): FilterPath {
  if (allowed <= settings.scanBudget) return 'exact';
  return allowed >= settings.annMinShare * vectors ? 'ann' : 'cells';
}

/** A search parameter grown by the inverse of the allowed share (at most 1 / annMinShare times). */
export function scaledParam(base: number, allowed: number, vectors: number): number {
  return Math.ceil(base / Math.min(1, allowed / Math.max(1, vectors)));
}
