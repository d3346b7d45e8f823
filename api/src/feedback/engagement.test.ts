import { describe, expect, it } from 'vitest';
import { DEFAULT_ENGAGEMENT_PRIOR, smoothedEngagement } from './engagement.ts';

describe('smoothedEngagement', () => {
  it('gives an image with no data the prior (0.5), not zero', () => {
    expect(smoothedEngagement(null)).toBeCloseTo(0.5, 12);
    expect(smoothedEngagement({ impressions: 0, clicks: 0, saves: 0 })).toBeCloseTo(0.5, 12);
  });

  it('gives an image that performs exactly at the prior rates 0.5, however much data it has', () => {
    expect(smoothedEngagement({ impressions: 10_000, clicks: 500, saves: 100 })).toBeCloseTo(0.5, 12);
  });

  it('rises with every extra click and every extra save', () => {
    let previous = smoothedEngagement({ impressions: 200, clicks: 0, saves: 0 });
    for (let clicks = 1; clicks <= 200; clicks++) {
      const next = smoothedEngagement({ impressions: 200, clicks, saves: 0 });
      expect(next).toBeGreaterThan(previous);
      previous = next;
    }
    previous = smoothedEngagement({ impressions: 200, clicks: 10, saves: 0 });
    for (let saves = 1; saves <= 50; saves++) {
      const next = smoothedEngagement({ impressions: 200, clicks: 10, saves });
      expect(next).toBeGreaterThan(previous);
      previous = next;
    }
  });

  it('falls with impressions that brought no engagement', () => {
    let previous = smoothedEngagement({ impressions: 0, clicks: 3, saves: 1 });
    for (const impressions of [1, 10, 100, 1_000, 100_000]) {
      const next = smoothedEngagement({ impressions, clicks: 3, saves: 1 });
      expect(next).toBeLessThan(previous);
      previous = next;
    }
    expect(smoothedEngagement({ impressions: 1e9, clicks: 0, saves: 0 })).toBeLessThan(1e-6);
  });

  it('moves little on a few lucky clicks and a lot on sustained ones', () => {
    const lucky = smoothedEngagement({ impressions: 2, clicks: 2, saves: 0 });
    const proven = smoothedEngagement({ impressions: 2_000, clicks: 2_000 * 0.5, saves: 0 });
    expect(lucky).toBeLessThan(proven);
    expect(lucky).toBeLessThan(0.85);
    expect(proven).toBeGreaterThan(0.85);
  });

  it('stays in [0, 1] for any counts, including clicks above impressions and bad data', () => {
    const cases = [
      { impressions: 0, clicks: 1e12, saves: 1e12 },
      { impressions: 5, clicks: 50, saves: 500 },
      { impressions: -3, clicks: Number.NaN, saves: -1 },
      { impressions: 1e15, clicks: 0, saves: 0 },
    ];
    for (const stats of cases) {
      const value = smoothedEngagement(stats);
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(1);
    }
    // bad counts are no data
    expect(smoothedEngagement({ impressions: -3, clicks: Number.NaN, saves: -1 })).toBeCloseTo(0.5, 12);
  });

  it('accepts counts that arrive as bigint or text from an int8 column', () => {
    const asNumbers = smoothedEngagement({ impressions: 100, clicks: 20, saves: 3 });
    const loose = { impressions: 100n, clicks: '20', saves: 3n } as unknown as Parameters<
      typeof smoothedEngagement
    >[0];
    expect(smoothedEngagement(loose)).toBeCloseTo(asNumbers, 12);
  });

  it('weights clicks and saves by clickShare', () => {
    const clicksOnly = { ...DEFAULT_ENGAGEMENT_PRIOR, clickShare: 1 };
    expect(smoothedEngagement({ impressions: 100, clicks: 5, saves: 90 }, clicksOnly)).toBeCloseTo(
      smoothedEngagement({ impressions: 100, clicks: 5, saves: 0 }, clicksOnly),
      12,
    );
  });

  it('refuses a prior it cannot divide by', () => {
    expect(() => smoothedEngagement(null, { ctr: 0, saveRate: 0.01, strength: 20 })).toThrow(RangeError);
    expect(() => smoothedEngagement(null, { ctr: 0.05, saveRate: 0.01, strength: 0 })).toThrow(RangeError);
  });
});
