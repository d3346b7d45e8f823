import { describe, expect, it } from 'vitest';
import { defaultNprobe } from './main-tier.ts';

describe('defaultNprobe', () => {
  it('probes at least an eighth of an IVF tier’s lists when the configured nprobe is fewer', () => {
    expect(defaultNprobe('IVF2048,PQ64x4fs', 32)).toBe(256);
    expect(defaultNprobe('IVF1000,PQ16', 32)).toBe(125);
  });

  it('caps that share at 256 lists: the floor does not grow with the shard', () => {
    expect(defaultNprobe('IVF4096,PQ64x4fs', 32)).toBe(256);
    expect(defaultNprobe('IVF8192,PQ64x4fs', 32)).toBe(256);
    // a configured nprobe above the cap is kept
    expect(defaultNprobe('IVF8192,PQ64x4fs', 512)).toBe(512);
  });

  it('keeps the configured nprobe when it already covers that share, and for tiers without lists', () => {
    expect(defaultNprobe('IVF64,PQ16x4fs', 32)).toBe(32);
    expect(defaultNprobe('IVF2048,PQ64x4fs', 512)).toBe(512);
    expect(defaultNprobe('HNSW32', 32)).toBe(32);
    expect(defaultNprobe('Flat', 32)).toBe(32);
  });
});
