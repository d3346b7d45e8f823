import { describe, expect, it } from 'vitest';
import { clusteredUnitVectors } from '../faiss/synthetic.ts';
import {
  buildPartitionMap,
  imbalance,
  parsePartitionMap,
  serializePartitionMap,
  shardOfVector,
} from './partition-map.ts';

const D = 32;
const data = clusteredUnitVectors({ count: 4000, dimension: D, clusters: 200, families: 16, seed: 7 });

describe('partition map', () => {
  it('is the same map for the same sample (every router and restart places alike)', () => {
    const a = buildPartitionMap('m', data.subarray(0, 2000 * D), D, 4);
    const b = buildPartitionMap('m', data.subarray(0, 2000 * D), D, 4);
    expect(b.version).toBe(a.version);
    expect(b.centroids).toEqual(a.centroids);
    expect(buildPartitionMap('m', data.subarray(2000 * D), D, 4).version).not.toBe(a.version);
  });

  it('balances shards within 20% on the sample and on vectors it never saw', () => {
    const map = buildPartitionMap('m', data.subarray(0, 2000 * D), D, 4);
    expect(imbalance(map.sampleRowsPerShard)).toBeLessThanOrEqual(0.2);
    const sizes = [0, 0, 0, 0];
    for (let i = 2000; i < 4000; i++) sizes[shardOfVector(map, data, i * D)]!++;
    expect(imbalance(sizes)).toBeLessThanOrEqual(0.2);
    expect(Math.min(...sizes)).toBeGreaterThan(0);
  });

  it('survives serialisation, and a tampered map is refused', () => {
    const map = buildPartitionMap('m', data.subarray(0, 2000 * D), D, 3, { clusters: 24 });
    const parsed = parsePartitionMap(serializePartitionMap(map));
    expect(parsed).toEqual(map);
    for (let i = 0; i < 100; i++)
      expect(shardOfVector(parsed, data, i * D)).toBe(shardOfVector(map, data, i * D));
    const raw = JSON.parse(serializePartitionMap(map)) as { shardOfCluster: number[] };
    raw.shardOfCluster[0] = (raw.shardOfCluster[0]! + 1) % 3;
    expect(() => parsePartitionMap(JSON.stringify(raw))).toThrow(/does not match version/);
  });

  it('refuses to build from a sample too small to cluster', () => {
    expect(() => buildPartitionMap('m', data.subarray(0, 10 * D), D, 4)).toThrow(/at least 16 vectors/);
  });
});
