import { describe, expect, it } from 'vitest';
import { atK, mean, queryTextOf } from './eval-metrics.ts';

describe('eval metrics', () => {
  it('precision@k divides by k, recall@k by the relevant count, misses included', () => {
    const relevant = new Set(['a', 'b', 'c', 'd']);
    expect(atK(['a', 'x', 'b', 'c'], relevant, 3)).toEqual({ precision: 2 / 3, recall: 2 / 4 });
    // fewer hits than k still divide by k: a short answer is not a precise one
    expect(atK(['a'], relevant, 5)).toEqual({ precision: 1 / 5, recall: 1 / 4 });
    expect(atK(['a'], new Set(), 5)).toEqual({ precision: 0, recall: 0 });
  });

  it('averages queries equally, and says null for none', () => {
    expect(
      mean([
        { precision: 1, recall: 0.5 },
        { precision: 0, recall: 1 },
      ]),
    ).toEqual({
      queries: 2,
      precision: 0.5,
      recall: 0.75,
    });
    expect(mean([])).toEqual({ queries: 0, precision: null, recall: null });
  });

  it('turns folder names into text queries', () => {
    expect(queryTextOf('red_car')).toBe('red car');
    expect(queryTextOf('sea-side..view')).toBe('sea side view');
  });
});
