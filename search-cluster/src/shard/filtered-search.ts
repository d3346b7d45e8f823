import { dotAt } from '../vector-math.ts';
import type { HotTier } from './hot-tier.ts';
import type { MainTier } from './main-tier.ts';
import { type Hit, TopK } from './topk.ts';

/** Filtered exact search: what it reads of one model version's two tiers. */
export interface TierView {
  dimension: number;
  hot: HotTier;
  /** The current main tier (it changes at every swap). */
  main(): MainTier | null;
  /** Is `id` searchable right now? */
  isLive(id: bigint): boolean;
}

export const EMPTY = (nq: number): Hit[][] => Array.from({ length: nq }, () => []);

/**
 * An ANN search with an id selector can come back short (HNSW leaves the allowed region, IVF
 * probes lists without allowed ids). When more allowed ids are live than were found, scan them
 * exactly so k results come back whenever k exist.
 */
export async function topUpFiltered(
  tiers: TierView,
  queries: Float32Array,
  k: number,
  allowed: BigInt64Array,
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
      const [hits] = await exactScan(tiers, queries.subarray(q * d, q * d + d), 1, k, allowed, main);
      results[q] = hits!;
    } finally {
      main?.release();
    }
  }
}

/** Scores every live allowed id exactly: hot vectors from memory, main ones from its row store. */
export async function exactScan(
  tiers: TierView,
  queries: Float32Array,
  nq: number,
  k: number,
  allowed: BigInt64Array,
  main: MainTier | null,
): Promise<Hit[][]> {
  const d = tiers.dimension;
  const hotIds: bigint[] = [];
  const hotVectors: Float32Array[] = [];
  const mainIds: bigint[] = [];
  const mainRows: number[] = [];
  const seen = new Set<bigint>();
  for (let i = 0; i < allowed.length; i++) {
    const id = allowed[i]!;
    if (seen.has(id)) continue;
    seen.add(id);
    // the hot entry is the newest vector of an id
    const entry = tiers.hot.entries.get(id);
    if (entry) {
      hotIds.push(id);
      hotVectors.push(entry.vector);
      continue;
    }
    const row = main ? main.liveRow(id) : -1;
    if (row >= 0) {
      mainIds.push(id);
      mainRows.push(row);
    }
  }
  const fromMain =
    main && mainIds.length > 0 ? await main.scoreExact(queries, nq, mainIds, mainRows, k) : EMPTY(nq);
  const results: Hit[][] = [];
  for (let q = 0; q < nq; q++) {
    const top = new TopK(k);
    const offset = q * d;
    for (let i = 0; i < hotIds.length; i++)
      top.push(hotIds[i]!, Math.fround(dotAt(queries, offset, hotVectors[i]!, 0, d)));
    for (const hit of fromMain[q]!) top.push(hit.id, hit.score);
    // scoring the main tier's rows was async: drop ids deleted meanwhile
    results.push(top.result().filter((h) => tiers.isLive(h.id)));
  }
  return results;
}
