import { describe, expect, it } from 'vitest';
import type { Row } from './rows.ts';
import { cpuAtRecall, recallCurve } from './verdicts.ts';

const one = (params: string, recall: number, cpuMsPerQuery: number): Row => ({
  tier: 'ivfpq',
  shards: 1,
  router: 'one',
  params,
  inflight: 1,
  recall,
  qps: 0,
  p50Ms: 0,
  p99Ms: 0,
  cpuMsPerQuery,
  partial: 0,
  shardsPerQuery: 1,
  load1: 0,
});

describe('the single shard recall-CPU curve', () => {
  const rows = [
    one('nprobe=8', 0.7, 0.1),
    one('nprobe=16', 0.8, 0.2),
    // dearer and no better than nprobe=16: off the curve
    one('nprobe=24', 0.79, 0.25),
    one('nprobe=32', 0.9, 0.4),
  ];

  it('keeps the rows no cheaper row beats on recall, cheapest first', () => {
    expect(recallCurve(rows).map((p) => p.params)).toEqual(['nprobe=8', 'nprobe=16', 'nprobe=32']);
  });

  it('is the lower convex hull: a sliver of recall bought dearly does not raise the price of the recall above it', () => {
    const curve = recallCurve([
      one('nprobe=48', 0.9655, 0.524),
      one('nprobe=64', 0.9658, 0.571),
      one('nprobe=128', 0.9659, 0.719),
      one('rescoreFactor=16', 0.9833, 0.731),
    ]);
    expect(curve.map((p) => p.params)).toEqual(['nprobe=48', 'rescoreFactor=16']);
    // half way: half the queries at each setting
    expect(cpuAtRecall(curve, 0.9744)).toBeCloseTo(0.6275, 10);
  });

  it('reads CPU at a recall linearly between neighbouring points, and nothing outside the curve', () => {
    const curve = recallCurve(rows);
    expect(cpuAtRecall(curve, 0.8)).toBe(0.2);
    expect(cpuAtRecall(curve, 0.85)).toBeCloseTo(0.3, 10);
    expect(cpuAtRecall(curve, 0.9)).toBe(0.4);
    expect(cpuAtRecall(curve, 0.69)).toBeUndefined();
    expect(cpuAtRecall(curve, 0.95)).toBeUndefined();
    expect(cpuAtRecall([], 0.5)).toBeUndefined();
  });
});
