import DataLoader from 'dataloader';
import type { ImageRecord, ImageStatsRecord, TagRecord } from './image.types.ts';
import type { ImagesRepository } from './images.repository.ts';

/** Per-request loaders: every image, tag and stats read in one request is one statement per table. */
export function createImageLoaders(repo: ImagesRepository) {
  return {
    imageById: new DataLoader<string, ImageRecord | null>(async (ids) => {
      const byId = new Map((await repo.findByIds(ids)).map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    tagsByImageId: new DataLoader<string, TagRecord[]>(async (ids) => {
      const grouped = new Map<string, TagRecord[]>(ids.map((id) => [id, []]));
      for (const tag of await repo.tagsForImages(ids)) grouped.get(tag.image_id)?.push(tag);
      return ids.map((id) => grouped.get(id) ?? []);
    }),
    statsByImageId: new DataLoader<string, ImageStatsRecord | null>(async (ids) => {
      const byId = new Map((await repo.statsForImages(ids)).map((row) => [row.image_id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
  };
}
export type ImageLoaders = ReturnType<typeof createImageLoaders>;
