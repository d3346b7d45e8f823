import { describe, expect, it } from 'vitest';
import { ivfpqFactory } from './build-main.ts';

describe('ivfpqFactory', () => {
  it('chooses raw-vector fast-scan codes, nlist ~ 4 sqrt(n) and m = d/8 (at least 16)', () => {
    expect(ivfpqFactory(1_000_000, 512)).toBe('IVF2048,PQ64x4fs');
    expect(ivfpqFactory(100_000, 512)).toBe('IVF1024,PQ64x4fs');
    expect(ivfpqFactory(20_000, 64)).toBe('IVF512,PQ16x4fs');
    // a small shard: at least 39 training points a list
    expect(ivfpqFactory(4_000, 64)).toBe('IVF64,PQ16x4fs');
  });
});
