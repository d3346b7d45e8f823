import { describe, expect, it } from 'vitest';
import { getModelEntry } from '../encoder/registry.ts';
import { manifestRelevance, NO_CUT, relevanceCut } from './relevance.ts';

describe('relevance floor', () => {
  it('reads each version floor from its manifest by default', async () => {
    const policy = manifestRelevance();
    expect(await policy.similarityFloorFor('tiny-clip-v1')).toBe(
      getModelEntry('tiny-clip-v1').similarityFloor,
    );
    expect(await policy.similarityFloorFor('siglip-base-patch16-224')).toBe(0.05);
    expect(policy.adaptiveMarginFor('clip-vit-b32-fp32')).toBe(0.08);
    // a version without a manifest is not cut
    expect(await policy.similarityFloorFor('no-such-model')).toBe(NO_CUT.similarityFloor);
  });

  it('prefers a manifest it is given (the running model loaded from a directory)', async () => {
    const policy = manifestRelevance({ 'my-model': { similarityFloor: 0.42, adaptiveMargin: 0.1 } });
    expect(await policy.similarityFloorFor('my-model')).toBe(0.42);
    expect(policy.adaptiveMarginFor('my-model')).toBe(0.1);
  });

  it('cuts text queries at the best hit minus the margin, never under the floor', () => {
    const base = { requested: null, floor: 0.3, margin: 0.5, adaptive: true };
    expect(relevanceCut({ ...base, similarities: [0.66, 1, 0.001] })).toEqual({
      minSimilarity: 0.5,
      source: 'adaptive',
    });
    expect(relevanceCut({ ...base, similarities: [0.7, 0.46] })).toEqual({
      minSimilarity: 0.3,
      source: 'floor',
    });
    expect(relevanceCut({ ...base, similarities: [] })).toEqual({ minSimilarity: 0.3, source: 'floor' });
  });

  it('keeps only the floor for image queries, and the request value over everything', () => {
    expect(
      relevanceCut({ similarities: [1, 0.2], requested: null, floor: 0.3, margin: 0.1, adaptive: false }),
    ).toEqual({ minSimilarity: 0.3, source: 'floor' });
    expect(
      relevanceCut({ similarities: [1, 0.2], requested: -1, floor: 0.3, margin: 0.1, adaptive: true }),
    ).toEqual({ minSimilarity: -1, source: 'request' });
  });
});
