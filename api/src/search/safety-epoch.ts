import type { SearchRepository } from './search.repository.ts';

/**
 * The newest safety epoch this process has read from Postgres. Every flag, unflag, rejection and
 * deletion bumps the epoch in its own transaction (triggers, migration 0005); the search's page
 * statement reads it in the same snapshot as the rows it gates (search.repository.ts#pageOf) and
 * reports it here. The API tells the edge (x-pixelfind-safety-epoch), which drops its cached
 * results when it grows. Gating itself never reads a cache: the page statement joins
 * `safety_blocklist` and the image rows.
 */
export function createSafetyEpoch(repo: Pick<SearchRepository, 'safetyEpoch'>) {
  let latest: bigint | null = null;
  const observe = (epoch: string): void => {
    const value = BigInt(epoch);
    if (latest === null || value > latest) latest = value;
  };
  return {
    /** An epoch read from Postgres elsewhere (the page statement). */
    observe,
    /** Reads the epoch now: after a moderation write, so the next answer tells the edge at once. */
    async refresh(): Promise<void> {
      observe(await repo.safetyEpoch());
    },
    /** The newest epoch read by this process (null before the first read). */
    latest: (): bigint | null => latest,
  };
}
export type SafetyEpoch = ReturnType<typeof createSafetyEpoch>;
