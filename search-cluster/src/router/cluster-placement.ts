import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClusterError } from '../errors.ts';
import { seededRandom } from '../faiss/synthetic.ts';
import type { VectorSource } from '../rebuild/vector-source.ts';
import { writeFileAtomic } from '../runtime/atomic-write.ts';
import type { VectorPlacement } from '../shard/partition.ts';
import type { ModelVersionSpec } from '../shard/shard.ts';
import {
  buildPartitionMap,
  type PartitionMap,
  type PartitionMapOptions,
  parsePartitionMap,
  serializePartitionMap,
  shardOfVector,
} from './partition-map.ts';

/** createRouter's `partitioning: { kind: 'cluster' }`: shards hold vectors by k-means cluster. */
export interface ClusterPartitioning extends PartitionMapOptions {
  kind: 'cluster';
  /** Vectors of record read (reservoir-sampled, seeded) to build a model version's map. Default 20,000. */
  sampleSize?: number;
}

/**
 * The partition maps of a cluster-partitioned router, one per model version: what the router
 * routes writes and searches by, and what its in-process shards filter rebuilds and refills by
 * (the same object, so they cannot disagree).
 */
export class ClusterPlacement implements VectorPlacement {
  constructor(private readonly maps: ReadonlyMap<string, PartitionMap>) {}

  map(modelVersion: string): PartitionMap {
    const map = this.maps.get(modelVersion);
    if (!map) {
      throw new ClusterError('NO_PARTITION_MAP', `No partition map for model version "${modelVersion}"`);
    }
    return map;
  }

  has(modelVersion: string): boolean {
    return this.maps.has(modelVersion);
  }

  label(modelVersion: string): string {
    return `cluster:${this.map(modelVersion).version}`;
  }

  shardOf(modelVersion: string, vectors: Float32Array, offset: number): number {
    return shardOfVector(this.map(modelVersion), vectors, offset);
  }
}

/** Where a model version's map is persisted: next to the shards' directories. */
export const partitionMapPath = (dataDir: string, modelVersion: string) =>
  join(dataDir, 'partition-maps', `${encodeURIComponent(modelVersion)}.json`);

/**
 * Each model version's map: the persisted one when `dataDir` holds it (it placed the shards'
 * snapshots), else built from a sample of the source and persisted. A persisted map for another
 * shard count or dimension is an error, not silently replaced: replacing it re-places every vector.
 */
export async function openClusterPlacement(input: {
  partitioning: ClusterPartitioning;
  modelVersions: readonly ModelVersionSpec[];
  shardCount: number;
  source: VectorSource | undefined;
  dataDir: string | undefined;
}): Promise<ClusterPlacement> {
  const { partitioning, shardCount, source, dataDir } = input;
  const maps = new Map<string, PartitionMap>();
  for (const { name, dimension } of input.modelVersions) {
    const path = dataDir ? partitionMapPath(dataDir, name) : undefined;
    const stored = path ? await readStored(path) : undefined;
    if (stored) {
      if (stored.shardCount !== shardCount || stored.dimension !== dimension) {
        throw new ClusterError(
          'UNSUPPORTED',
          `The partition map at ${path} is for ${stored.shardCount} shards of dimension ${stored.dimension}, not ${shardCount} of ${dimension}; re-partitioning is not supported in place (remove it to re-place every vector)`,
        );
      }
      maps.set(name, stored);
      continue;
    }
    const sample = source ? await sampleSource(source, name, dimension, partitioning) : new Float32Array(0);
    let map: PartitionMap;
    try {
      map = buildPartitionMap(name, sample, dimension, shardCount, partitioning);
    } catch (error) {
      throw new ClusterError(
        'NO_PARTITION_MAP',
        `Cluster partitioning of model version "${name}": ${(error as Error).message}; the source of record must hold vectors before the shards start`,
      );
    }
    if (path) {
      await mkdir(join(dataDir!, 'partition-maps'), { recursive: true });
      await writeFileAtomic(path, serializePartitionMap(map));
    }
    maps.set(name, map);
  }
  return new ClusterPlacement(maps);
}

async function readStored(path: string): Promise<PartitionMap | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return parsePartitionMap(text);
  } catch (error) {
    // an unreadable map cannot be rebuilt quietly: the shards' snapshots were placed by it
    throw new ClusterError(
      'SNAPSHOT_CORRUPT',
      `Partition map ${path} is unusable: ${(error as Error).message}`,
    );
  }
}

/** A seeded reservoir sample of the model version's vectors of record (every shard's). */
async function sampleSource(
  source: VectorSource,
  modelVersion: string,
  dimension: number,
  partitioning: ClusterPartitioning,
): Promise<Float32Array> {
  const size = partitioning.sampleSize ?? 20_000;
  const random = seededRandom(partitioning.seed ?? 1);
  const sample = new Float32Array(size * dimension);
  let seen = 0;
  const snapshot = await source.snapshot(modelVersion, { index: 0, count: 1 });
  for await (const { vector } of snapshot.records) {
    if (vector.length !== dimension || !vector.every(Number.isFinite)) continue;
    const slot = seen < size ? seen : Math.floor(random() * (seen + 1));
    seen++;
    if (slot < size) sample.set(vector, slot * dimension);
  }
  return sample.subarray(0, Math.min(seen, size) * dimension);
}
