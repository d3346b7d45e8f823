/** When a model version's main tier is due for a rebuild: the one rule, used by the shard and the API's maintenance job. */
export interface RebuildThresholds {
  /** The hot tier holds at least this many vectors (0: never). */
  hotVectors: number;
  /** More than this share of the main tier is tombstones (0: never). */
  tombstoneRatio: number;
}

/** Why a rebuild is due ('hot-tier' or 'tombstones'), or null. */
export function rebuildReason(
  tiers: { hotVectors: number; mainVectors: number; tombstones: number },
  thresholds: RebuildThresholds,
): 'hot-tier' | 'tombstones' | null {
  if (thresholds.hotVectors > 0 && tiers.hotVectors >= thresholds.hotVectors) return 'hot-tier';
  if (
    thresholds.tombstoneRatio > 0 &&
    tiers.mainVectors > 0 &&
    tiers.tombstones > thresholds.tombstoneRatio * tiers.mainVectors
  ) {
    return 'tombstones';
  }
  return null;
}
