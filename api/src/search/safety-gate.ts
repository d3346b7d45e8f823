import type { ImageRecord } from '../images/image.types.ts';

/** What the gate reads of an image row. */
export type GateFacts = Pick<ImageRecord, 'status' | 'deleted_at' | 'safety_score' | 'flagged'>;

/**
 * The hard safety gate of search results: indexed, not deleted, not on the blocklist, and a
 * stored safety score at or above the threshold. Safety is a gate, not a weight: a candidate
 * that fails it is dropped before relevance and ranking ever see it. The page statement
 * (search.repository.ts#pageOf) applies the same rule in SQL to pick which rows to hydrate;
 * this function, run on every candidate the statement returns, is the one that decides.
 */
export function passesSafetyGate(row: GateFacts, safetyThreshold: number): boolean {
  if (row.status !== 'INDEXED' || row.deleted_at || row.flagged) return false;
  return row.safety_score !== null && row.safety_score >= safetyThreshold;
}
