import { describe, expect, it } from 'vitest';
import { decideGate } from './gate.ts';
import type { StoredEvaluation } from './index-versions.repository.ts';

const evaluation = (e: Partial<StoredEvaluation>): StoredEvaluation => ({
  goldenRecallAt10: null,
  ndcgAt10: null,
  annRecallText: null,
  annRecallImage: null,
  goldenQueries: 0,
  similarityFloor: null,
  detail: null,
  evaluatedAt: null,
  ...e,
});
const settings = { goldenRatio: 0.99, minAnnRecall: 0.95 };

describe('promotion gate', () => {
  it('passes a version at least 0.99 x as good as the active one with healthy ANN recall', () => {
    const v = decideGate(
      evaluation({ goldenRecallAt10: 0.9, goldenQueries: 5, annRecallText: 0.97, annRecallImage: 1 }),
      evaluation({ goldenRecallAt10: 0.905, goldenQueries: 5 }),
      settings,
    );
    expect(v).toMatchObject({ passed: true, failures: [] });
    expect(v.numbers.requiredGoldenRecallAt10).toBeCloseTo(0.89595);
  });

  it('refuses a worse golden recall and an unhealthy index, with the numbers', () => {
    const v = decideGate(
      evaluation({ goldenRecallAt10: 0.2, goldenQueries: 5, annRecallText: 0.99, annRecallImage: 0.8 }),
      evaluation({ goldenRecallAt10: 1, goldenQueries: 5 }),
      settings,
    );
    expect(v.passed).toBe(false);
    expect(v.failures).toEqual([
      'golden recall@10 0.200 < 0.990 (0.99 x active 1.000)',
      'ANN recall@10 (image) 0.800 < 0.95',
    ]);
  });

  it('without golden data says so and decides on ANN health alone', () => {
    const healthy = decideGate(evaluation({ annRecallText: 1, annRecallImage: 1 }), null, settings);
    expect(healthy.passed).toBe(true);
    expect(healthy.notes[0]).toMatch(/no golden data/);
    const sick = decideGate(evaluation({ annRecallText: 0.5, annRecallImage: 1 }), null, settings);
    expect(sick.passed).toBe(false);
  });
});
