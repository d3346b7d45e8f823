import { warnCodesInMemory } from '../shard/filter-cells.ts';
import type { MainTier, MainTierSearchParams } from '../shard/main-tier.ts';
import type { Logger, TierOptions } from '../shard/options.ts';
import { ownsRecord, type Partition, type VectorPlacement } from '../shard/partition.ts';
import type { VectorIndexFactory } from '../shard/vector-index.ts';
import { buildMainTier, collectVectors } from './build-main.ts';
import type { VectorSource } from './vector-source.ts';

export interface SourceBuildOptions {
  source: VectorSource;
  modelVersion: string;
  dimension: number;
  partition: Partition;
  placement: VectorPlacement | undefined;
  factory: VectorIndexFactory;
  tiers: TierOptions;
  params: MainTierSearchParams;
  onDisk: boolean;
  dataDir: string | undefined;
  signal: AbortSignal;
  log: Logger;
  /** Told a failure that does not stop the build (the snapshot write). */
  onError: (error: unknown) => void;
}

export interface SourceBuild {
  /** The new main tier, filter cells built; null when the source holds nothing for this shard. */
  tier: MainTier | null;
  /** Snapshot directory, or null when none was written. */
  snapshotDir: string | null;
  watermark: bigint;
  vectors: number;
  skipped: number;
}

/**
 * A rebuild's heavy half, which touches no serving state: read the shard's records from the source
 * of record (keeping those its partition owns), build the main tier (and its snapshot), and build
 * the tier's filter cells before it serves, so their k-means (seconds of both cores at 500k
 * vectors) runs inside the rebuild, not under the traffic that follows. ModelIndex swaps the tier in.
 */
export async function buildFromSource(options: SourceBuildOptions): Promise<SourceBuild> {
  const { source, modelVersion, dimension, partition, placement, factory, dataDir, signal, log } = options;
  const snapshot = await source.snapshot(modelVersion, partition);
  const collected = await collectVectors(
    snapshot.records,
    dimension,
    (id, vector) => ownsRecord(partition, placement, modelVersion, id, vector),
    signal,
  );
  const built =
    collected.ids.length > 0
      ? await buildMainTier(collected, {
          factory,
          dimension,
          tiers: options.tiers,
          params: options.params,
          onDisk: options.onDisk,
          signal,
          watermark: snapshot.watermark,
          snapshot: dataDir ? { dataDir, modelVersion, partition } : null,
          onSnapshotError: (error) => {
            // still serve the new tier; the next rebuild tries again
            options.onError(error);
            log.error('snapshot write failed', { modelVersion, error: (error as Error).message });
          },
        })
      : { tier: null, snapshotDir: null, calibration: null };
  if (built.calibration) log.info('main tier nprobe calibrated', { modelVersion, ...built.calibration });
  // a failure leaves the cells to the first filtered search that needs them
  await built.tier
    ?.filterCells(factory)
    .then((cells) => warnCodesInMemory(cells, log, { modelVersion }))
    .catch((error: unknown) => {
      log.warn('filter cells build failed', { modelVersion, error: (error as Error).message });
    });
  return {
    tier: built.tier,
    snapshotDir: built.snapshotDir,
    watermark: snapshot.watermark,
    vectors: collected.ids.length,
    skipped: collected.skipped,
  };
}
