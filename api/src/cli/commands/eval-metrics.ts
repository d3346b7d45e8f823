/** Precision and recall at k of one query: `hits` best first, `relevant` the ids that count. */
export function atK(
  hits: readonly string[],
  relevant: ReadonlySet<string>,
  k: number,
): { precision: number; recall: number } {
  const top = hits.slice(0, k);
  const found = top.filter((id) => relevant.has(id)).length;
  return { precision: found / k, recall: relevant.size === 0 ? 0 : found / relevant.size };
}

/** Mean precision and recall over some queries (each weighs the same); null for none. */
export interface MeanScores {
  queries: number;
  precision: number | null;
  recall: number | null;
}

export function mean(scores: readonly { precision: number; recall: number }[]): MeanScores {
  if (scores.length === 0) return { queries: 0, precision: null, recall: null };
  const sum = (pick: (s: { precision: number; recall: number }) => number) =>
    scores.reduce((total, s) => total + pick(s), 0) / scores.length;
  return { queries: scores.length, precision: sum((s) => s.precision), recall: sum((s) => s.recall) };
}

/** A folder name as a text query: separators become spaces ("red_car" -> "red car"). */
export const queryTextOf = (category: string) =>
  category
    .replace(/[_\-.]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
