import { ClusterError } from '../errors.ts';
import { readIds, readVectors, type Snapshot } from '../rebuild/snapshot.ts';
import { MainTier, type MainTierSearchParams } from './main-tier.ts';
import { MemoryRowStore, type RowStore, VectorFileStore } from './row-store.ts';
import type { VectorIndex, VectorIndexFactory } from './vector-index.ts';

export interface OpenMainTierOptions {
  factory: VectorIndexFactory;
  /** Keep full vectors memory-mapped from the snapshot's vector file instead of in memory. */
  onDisk: boolean;
  params: MainTierSearchParams;
}

/**
 * A main tier from a verified snapshot on disk. Whatever does not match meta.json (or cannot be
 * read) is SNAPSHOT_CORRUPT, and nothing opened is left open.
 */
export async function openMainTier(snapshot: Snapshot, options: OpenMainTierOptions): Promise<MainTier> {
  const { meta } = snapshot;
  let index: VectorIndex;
  try {
    index = await options.factory.read(snapshot.indexPath);
  } catch (error) {
    throw new ClusterError(
      'SNAPSHOT_CORRUPT',
      `Snapshot ${snapshot.dir}: FAISS cannot read index.faiss: ${(error as Error).message}`,
    );
  }
  let store: RowStore | null = null;
  try {
    if (index.count !== meta.count || index.dimension !== meta.dimension) {
      throw new ClusterError(
        'SNAPSHOT_CORRUPT',
        `Snapshot ${snapshot.dir}: index holds ${index.count} vectors of dimension ${index.dimension}, meta.json says ${meta.count} of ${meta.dimension}`,
      );
    }
    const ids = await readIds(snapshot);
    store = options.onDisk
      ? await VectorFileStore.open(snapshot.vectorsPath, meta.count, meta.dimension)
      : new MemoryRowStore(await readVectors(snapshot), meta.dimension);
    return new MainTier({
      kind: meta.kind,
      factory: meta.factory,
      index,
      ids,
      store,
      watermark: BigInt(meta.watermark),
      params: options.params,
      ...(meta.calibration ? { calibration: meta.calibration } : {}),
      ...(Number.isFinite(Date.parse(meta.createdAt)) ? { builtAt: Date.parse(meta.createdAt) } : {}),
    });
  } catch (error) {
    index.close();
    await store?.close();
    if (error instanceof ClusterError) throw error;
    throw new ClusterError('SNAPSHOT_CORRUPT', `Snapshot ${snapshot.dir}: ${(error as Error).message}`);
  }
}
