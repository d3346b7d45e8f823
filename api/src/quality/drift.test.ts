import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalize } from '../../../search-cluster/src/index.ts';
import { row, unitVectors } from '../../../search-cluster/src/shard/test-vectors.ts';
import { type Backend, createEmbeddedBackend } from '../../../test/support/backends.ts';
import { metricValue } from '../jobs/jobs.test-support.ts';
import { createCanaryRepository } from './canary.repository.ts';
import { createDrift, meanShift } from './drift.ts';
import { insertEmbedded } from './quality.test-support.ts';

const MV = 'drift-v1';
const D = 8;

/** Unit vectors around one direction. */
function around(direction: number, n: number, seed: number): Float32Array[] {
  const noise = unitVectors(n, D, seed);
  return Array.from({ length: n }, (_, i) => {
    const v = row(noise, i, D).map((x) => x * 0.2);
    v[direction]! += 1;
    return normalize(v);
  });
}

describe('drift', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await createEmbeddedBackend();
  });
  afterAll(async () => {
    await backend.dispose();
  });

  it('meanShift is 0 for the same direction and 1 for orthogonal ones', () => {
    expect(meanShift(Float32Array.of(1, 0), Float32Array.of(2, 0))).toBeCloseTo(0, 6);
    expect(meanShift(Float32Array.of(1, 0), Float32Array.of(0, 1))).toBeCloseTo(1, 6);
  });

  it('shows new uploads moving away from the reference, and none after the reference is reset', async () => {
    const registry = new Registry();
    const drift = createDrift({ quality: createCanaryRepository(backend.db), registry, windowHours: 24 });
    // the corpus: old uploads around axis 0
    for (const v of around(0, 30, 1)) await insertEmbedded(backend.db, MV, v, { hoursAgo: 72 });
    const first = await drift.measure(MV);
    // the first measurement takes the corpus as the reference; no uploads in the window yet
    expect(first).toMatchObject({ referenceVectors: 30, windowVectors: 0, shift: null });

    // new uploads around axis 1: far from the reference
    for (const v of around(1, 20, 2)) await insertEmbedded(backend.db, MV, v);
    const moved = await drift.measure(MV);
    expect(moved.windowVectors).toBe(20);
    expect(moved.shift).toBeGreaterThan(0.5);
    expect(await metricValue(registry, 'pixelfind_drift_embedding_shift', { model_version: MV })).toBe(
      moved.shift,
    );

    // promotion resets the reference to the corpus as it is now (old and new together)
    expect(await drift.resetDriftReference(MV)).toEqual({ vectors: 50 });
    const after = await drift.measure(MV);
    expect(after.shift).toBeLessThan(moved.shift!);

    drift.observeTopSimilarity(MV, 'text', 0.27);
    const text = await registry.getSingleMetricAsString('pixelfind_drift_top1_similarity');
    expect(text).toContain(
      `pixelfind_drift_top1_similarity_count{model_version="${MV}",query_kind="text"} 1`,
    );
    expect(text).toContain(
      `pixelfind_drift_top1_similarity_bucket{le="0.28",model_version="${MV}",query_kind="text"} 1`,
    );
    expect(text).toContain(
      `pixelfind_drift_top1_similarity_bucket{le="0.26",model_version="${MV}",query_kind="text"} 0`,
    );
  });
});
