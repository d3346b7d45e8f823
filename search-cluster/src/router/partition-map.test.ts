import { describe, expect, it } from 'vitest';
import { clusteredUnitVectors } from '../faiss/synthetic.ts';
import { faissFactory } from '../shard/faiss-factory.ts';
import {
  buildPartitionMap,
  imbalance,
  parsePartitionMap,
  serializePartitionMap,
  shardOfVector,
} from './partition-map.ts';

const D = 32;
const data = clusteredUnitVectors({ count: 4000, dimension: D, clusters: 200, families: 16, seed: 7 });

describe('partition map', async () => {
  it('is the same map for the same sample (every router and restart places alike)', async () => {
    const a = await buildPartitionMap('m', data.subarray(0, 2000 * D), D, 4, faissFactory);
    const b = await buildPartitionMap('m', data.subarray(0, 2000 * D), D, 4, faissFactory);
    expect(b.version).toBe(a.version);
    expect(b.centroids).toEqual(a.centroids);
    expect((await buildPartitionMap('m', data.subarray(2000 * D), D, 4, faissFactory)).version).not.toBe(
      a.version,
    );
  });

  it('balances shards within 20% on the sample and on vectors it never saw', async () => {
    const map = await buildPartitionMap('m', data.subarray(0, 2000 * D), D, 4, faissFactory);
    expect(imbalance(map.sampleRowsPerShard)).toBeLessThanOrEqual(0.2);
    const sizes = [0, 0, 0, 0];
    for (let i = 2000; i < 4000; i++) sizes[shardOfVector(map, data, i * D)]!++;
    expect(imbalance(sizes)).toBeLessThanOrEqual(0.2);
    expect(Math.min(...sizes)).toBeGreaterThan(0);
  });

  it('survives serialisation, and a tampered map is refused', async () => {
    const map = await buildPartitionMap('m', data.subarray(0, 2000 * D), D, 3, faissFactory, {
      clusters: 24,
    });
    const parsed = parsePartitionMap(serializePartitionMap(map));
    expect(parsed).toEqual(map);
    for (let i = 0; i < 100; i++)
      expect(shardOfVector(parsed, data, i * D)).toBe(shardOfVector(map, data, i * D));
    const raw = JSON.parse(serializePartitionMap(map)) as { shardOfCluster: number[] };
    raw.shardOfCluster[0] = (raw.shardOfCluster[0]! + 1) % 3;
    expect(() => parsePartitionMap(JSON.stringify(raw))).toThrow(/does not match version/);
  });

  it('refuses to build from a sample too small to cluster', async () => {
    await expect(buildPartitionMap('m', data.subarray(0, 10 * D), D, 4, faissFactory)).rejects.toThrow(
      /at least 16 vectors/,
    );
  });
});
