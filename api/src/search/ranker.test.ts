import { describe, expect, it } from 'vitest';
import { combine, DEFAULT_RANKER, parseRankerConfig, recency } from './ranker.ts';

describe('ranker', () => {
  it('recency halves every half-life and is 1 for a new image', () => {
    const now = Date.UTC(2026, 0, 31);
    expect(recency(new Date(now), now, 30)).toBe(1);
    expect(recency(new Date(now - 30 * 86_400_000), now, 30)).toBeCloseTo(0.5);
    expect(recency(new Date(now + 1000), now, 30)).toBe(1); // clock skew is not a bonus
  });

  it('combines the signals with the configured weights', () => {
    const config = { ...DEFAULT_RANKER, weights: { similarity: 1, engagement: 0.5, recency: 0.25 } };
    expect(combine({ similarity: 0.8, engagement: 0.4, recency: 0.2 }, config)).toBeCloseTo(0.8 + 0.2 + 0.05);
  });

  it('reads a versioned config and refuses one without a version or with a negative weight', () => {
    expect(parseRankerConfig('{"version":"r2","weights":{"engagement":0.3}}')).toMatchObject({
      version: 'r2',
      weights: { similarity: 1, engagement: 0.3 },
    });
    expect(() => parseRankerConfig('{"weights":{}}')).toThrow(/version/);
    expect(() => parseRankerConfig('{"version":"x","weights":{"recency":-1}}')).toThrow(/non-negative/);
  });
});
