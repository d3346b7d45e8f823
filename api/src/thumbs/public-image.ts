import type { Database } from '../db/database.ts';
import type { ImageRecord } from '../images/image.types.ts';
import { createImagesRepository } from '../images/images.repository.ts';
import type { Blocklist } from '../search/blocklist.ts';

/**
 * The one question the thumbnail route asks before it shows any pixels: may the public see
 * this image? The same gate as search results (status INDEXED, not deleted, stored safety
 * score at or over the threshold, not on the blocklist). Swap this function for the shared
 * visibility rule once it exists.
 */
export function createPublicImageLookup(deps: {
  db: Database;
  blocklist: Blocklist;
  safetyThreshold: number;
}) {
  const repo = createImagesRepository(deps.db);
  return async function publicImage(id: string): Promise<ImageRecord | null> {
    const [[row], [blocked]] = await Promise.all([repo.findByIds([id]), deps.blocklist.check([id])]);
    if (!row || blocked) return null;
    if (row.status !== 'INDEXED' || row.deleted_at) return null;
    if (row.safety_score === null || row.safety_score < deps.safetyThreshold) return null;
    return row;
  };
}
export type PublicImageLookup = ReturnType<typeof createPublicImageLookup>;
