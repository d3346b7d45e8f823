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
import { probePlan } from './probe-plan.ts';

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

  it('refuses a map whose centroids are more than a search can score', async () => {
    const wide = 4096;
    const sample = new Float32Array(1100 * wide).fill(1 / 64);
    await expect(buildPartitionMap('m', sample, wide, 4, faissFactory, { clusters: 257 })).rejects.toThrow(
      /over the 1048576 floats a search scores/,
    );
  });

  it('calibrates a slack under which the probe rule finds every exact neighbour of unseen queries', async () => {
    // 256-d: neighbours past a shard's border are rare, and 200 calibration queries (the old
    // default) saw too few of them: this rule then missed 0.03% of these neighbours
    const d = 256;
    const n = 8000;
    const held = 2000;
    const k = 10;
    const rows = clusteredUnitVectors({
      count: n + held,
      dimension: d,
      clusters: 400,
      families: 16,
      seed: 7,
    });
    const sample = rows.subarray(0, n * d);
    const queries = rows.subarray(n * d);
    const map = await buildPartitionMap('m', sample, d, 4, faissFactory);
    const exact = async (ids: number[]) => {
      const index = faissFactory.create(d, 'Flat');
      const vectors = new Float32Array(ids.length * d);
      for (const [i, row] of ids.entries()) vectors.set(sample.subarray(row * d, row * d + d), i * d);
      await index.add(vectors, BigInt64Array.from(ids, BigInt));
      const found = await index.search(queries, k);
      index.close();
      return found;
    };
    const owner = Array.from({ length: n }, (_, i) => shardOfVector(map, sample, i * d));
    const truth = await exact(owner.map((_, i) => i));
    const perShard = await Promise.all(
      [0, 1, 2, 3].map((s) => exact(owner.flatMap((o, i) => (o === s ? [i] : [])))),
    );
    let missed = 0;
    for (let q = 0; q < held; q++) {
      const plan = probePlan(map, queries, q * d);
      const kth = perShard[plan.order[0]!]!.distances[q * k + k - 1]!;
      const found = new Set<bigint>();
      for (const s of plan.order) {
        if (s !== plan.order[0] && plan.bound[s]! < kth) continue;
        for (let j = 0; j < k; j++) found.add(perShard[s]!.ids[q * k + j]!);
      }
      for (let j = 0; j < k; j++) if (!found.has(truth.ids[q * k + j]!)) missed++;
    }
    expect(missed).toBe(0);
  });
});
