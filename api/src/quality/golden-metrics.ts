/** Retrieval metrics of one ranked answer against the ids known to be relevant. */

/** |top k ∩ relevant| / min(k, |relevant|): 1 when every relevant image that fits is in the top k. */
export function recallAtK(ranked: readonly string[], relevant: ReadonlySet<string>, k = 10): number {
  if (relevant.size === 0) return 1;
  let found = 0;
  for (const id of ranked.slice(0, k)) if (relevant.has(id)) found += 1;
  return found / Math.min(k, relevant.size);
}

/** nDCG@k with binary gains: DCG of the answer over DCG of an ideal one. */
export function ndcgAtK(ranked: readonly string[], relevant: ReadonlySet<string>, k = 10): number {
  if (relevant.size === 0) return 1;
  let dcg = 0;
  ranked.slice(0, k).forEach((id, i) => {
    if (relevant.has(id)) dcg += 1 / Math.log2(i + 2);
  });
  let ideal = 0;
  for (let i = 0; i < Math.min(k, relevant.size); i++) ideal += 1 / Math.log2(i + 2);
  return dcg / ideal;
}
