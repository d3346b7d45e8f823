import type { ImageRecord } from '../images/image.types.ts';
import type { ImageLoaders } from '../images/images.loaders.ts';
import { passesSafetyGate } from './safety-gate.ts';
import type { CandidateFacts } from './search.repository.ts';

/** The image row of a candidate the page statement hydrated. */
function recordOf(facts: CandidateFacts, display: NonNullable<CandidateFacts['display']>): ImageRecord {
  const { tags: _tags, ...fields } = display;
  return {
    id: facts.id,
    status: facts.status,
    deleted_at: facts.deleted_at,
    safety_score: facts.safety_score,
    flagged: facts.flagged,
    ...fields,
  };
}

/**
 * The image rows of the page, in page order. Rows the page statement hydrated are handed to
 * the request's loaders (with their tags), so GraphQL resolves the hits' fields without a
 * query. A page entry the statement did not hydrate (its SQL ranking split a near-tie the other
 * way) is read through the loaders and gated again: it may have changed since the statement.
 */
export async function pageRecords(
  page: readonly CandidateFacts[],
  loaders: ImageLoaders,
  safetyThreshold: number,
): Promise<(ImageRecord | null)[]> {
  const records = page.map((facts) => {
    if (!facts.display) return null;
    const record = recordOf(facts, facts.display);
    loaders.imageById.prime(record.id, record);
    loaders.tagsByImageId.prime(record.id, facts.display.tags);
    return record;
  });
  const missing = page.filter((facts) => !facts.display).map((facts) => facts.id);
  if (missing.length === 0) return records;
  const read = await loaders.imageById.loadMany(missing);
  const failed = read.find((row) => row instanceof Error);
  if (failed) throw failed;
  const byId = new Map(
    (read as (ImageRecord | null)[])
      .filter((row): row is ImageRecord => row !== null && passesSafetyGate(row, safetyThreshold))
      .map((row) => [row.id, row]),
  );
  return records.map((record, i) => record ?? byId.get(page[i]!.id) ?? null);
}
