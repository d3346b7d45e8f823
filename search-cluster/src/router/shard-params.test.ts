import { describe, expect, it } from 'vitest';
import { inProcessTiers } from './config.ts';
import { shardEfSearch, shardRescoreFactor } from './shard-params.ts';

describe('per-shard search parameter rule', () => {
  it('divides efSearch by the square root of the shard count, never below min(efSearch, 64) or k', () => {
    expect(shardEfSearch(128, 1, 10)).toBe(128);
    expect(shardEfSearch(128, 4, 10)).toBe(64);
    expect(shardEfSearch(400, 4, 10)).toBe(200);
    expect(shardEfSearch(200, 2, 10)).toBe(142); // 200 / 1.414 = 141.4
    expect(shardEfSearch(512, 64, 10)).toBe(64); // 64 is the floor
    expect(shardEfSearch(100, 16, 10)).toBe(64);
    expect(shardEfSearch(64, 4, 10)).toBe(64); // the shard default is not cut
    expect(shardEfSearch(32, 4, 10)).toBe(32);
    expect(shardEfSearch(16, 4, 50)).toBe(50); // FAISS needs efSearch >= k
  });

  it('divides rescoreFactor by the shard count, rounded up, at least 1', () => {
    expect(shardRescoreFactor(8, 1)).toBe(8);
    expect(shardRescoreFactor(8, 4)).toBe(2);
    expect(shardRescoreFactor(8, 3)).toBe(3);
    expect(shardRescoreFactor(8, 16)).toBe(1);
  });

  it('gives in-process shards rescoreFactor / shards unless scaling is off or there is one shard', () => {
    expect(inProcessTiers({}, 4)).toEqual({ rescoreFactor: 2 });
    expect(inProcessTiers({ tiers: { rescoreFactor: 12, nprobe: 8 } }, 4)).toEqual({
      rescoreFactor: 3,
      nprobe: 8,
    });
    expect(inProcessTiers({ tiers: { rescoreFactor: 12 } }, 1)).toEqual({ rescoreFactor: 12 });
    expect(inProcessTiers({}, 1)).toBeUndefined();
    expect(inProcessTiers({ scaleSearchParams: false }, 4)).toBeUndefined();
    expect(inProcessTiers({ scaleSearchParams: false, tiers: { rescoreFactor: 8 } }, 4)).toEqual({
      rescoreFactor: 8,
    });
  });
});
