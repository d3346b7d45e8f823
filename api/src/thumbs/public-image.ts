import type { ImageRecord } from '../images/image.types.ts';
import type { ImagesRepository } from '../images/images.repository.ts';
import { isPublicImage } from '../images/visibility.ts';

/**
 * The one question the thumbnail route asks before it shows any pixels: may the public see
 * this image? Answered by the shared visibility rule (images/visibility.ts), read from
 * Postgres on every request so a takedown applies on the next view.
 */
export function createPublicImageLookup(deps: { images: ImagesRepository }) {
  return async function publicImage(id: string): Promise<ImageRecord | null> {
    const [row] = await deps.images.findByIds([id]);
    return row && isPublicImage(row) ? row : null;
  };
}
export type PublicImageLookup = ReturnType<typeof createPublicImageLookup>;
