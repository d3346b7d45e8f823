/**
 * Nearest-rank percentile of an ascending array (p in 0-100): the smallest value with at least
 * p% of the values at or below it. Every bench uses this one, so p99 means one thing in all of
 * bench/results.
 */
export const percentile = (sorted: ArrayLike<number>, p: number): number =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** `x` rounded to `digits` decimals, for results files. */
export const round = (x: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

/** count, mean, p50, p90, p99 and max, rounded to `digits` decimals. */
export function summarise(values: readonly number[], digits = 2): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return {
    count: sorted.length,
    mean: round(mean, digits),
    p50: round(percentile(sorted, 50), digits),
    p90: round(percentile(sorted, 90), digits),
    p99: round(percentile(sorted, 99), digits),
    max: round(sorted[sorted.length - 1] ?? Number.NaN, digits),
  };
}
