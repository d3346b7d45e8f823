import type { ImageEmbedder } from './indexing.ports.ts';

/**
 * Embeds images as one batch; when the batch fails, one by one, so one bad image does not fail
 * its batch-mates. Per image, in order: its vector, or the Error that image raised.
 */
export async function encodeBatch(
  encoder: Pick<ImageEmbedder, 'encodeImages'>,
  images: Buffer[],
): Promise<(Float32Array | Error)[]> {
  if (images.length === 0) return [];
  try {
    return await encoder.encodeImages(images);
  } catch {
    return Promise.all(
      images.map((bytes) =>
        encoder.encodeImages([bytes]).then(
          (v) => v[0] ?? new Error('encoder returned no vector'),
          (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
        ),
      ),
    );
  }
}
