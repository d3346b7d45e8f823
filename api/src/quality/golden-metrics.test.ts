import { describe, expect, it } from 'vitest';
import { ndcgAtK, recallAtK } from './golden-metrics.ts';

describe('golden metrics', () => {
  const relevant = new Set(['1', '2']);
  it('recall@10 counts relevant ids in the top 10, over what can fit', () => {
    expect(recallAtK(['1', '9', '2'], relevant)).toBe(1);
    expect(recallAtK(['9', '1'], relevant)).toBe(0.5);
    expect(recallAtK(['3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '1'], relevant)).toBe(0);
  });
  it('nDCG@10 rewards putting the relevant ids first', () => {
    expect(ndcgAtK(['1', '2', '9'], relevant)).toBeCloseTo(1);
    const late = ndcgAtK(['9', '8', '1', '2'], relevant);
    expect(late).toBeGreaterThan(0);
    expect(late).toBeLessThan(ndcgAtK(['1', '9', '2'], relevant));
  });
});
