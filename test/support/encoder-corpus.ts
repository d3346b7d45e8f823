import type { Encoder } from '../../api/src/encoder/encoder.ts';
import { makeColourImage, type SyntheticImage, syntheticImageSet } from '../fixtures/images/make-images.ts';

/** The encoder tests' shared set-up: the synthetic colour corpus, encoded by a model under test. */

export const quietLogger = { info: () => {}, warn: () => {} };

export const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

export type EmbeddedImage = SyntheticImage & { embedding: Float32Array };

export interface Loaded {
  encoder: Encoder;
  corpus: EmbeddedImage[];
}

/** The synthetic image set and its bytes, half PNG and half JPEG: lossy colours must not change answers. */
export async function colourCorpus(): Promise<{ images: SyntheticImage[]; bytes: Buffer[] }> {
  const images = syntheticImageSet();
  const bytes = await Promise.all(
    images.map((image, i) => makeColourImage({ ...image.spec, format: i % 2 ? 'jpeg' : 'png' })),
  );
  return { images, bytes };
}

/** Each image with the embedding `encoder` gives its bytes. */
export async function embedCorpus(
  encoder: Encoder,
  { images, bytes }: { images: SyntheticImage[]; bytes: Buffer[] },
): Promise<EmbeddedImage[]> {
  const embeddings = await encoder.encodeImages(bytes);
  return images.map((image, i) => ({ ...image, embedding: embeddings[i]! }));
}

/** The corpus image whose embedding is closest to `query`. */
export const nearest = (corpus: EmbeddedImage[], query: Float32Array): EmbeddedImage =>
  corpus.reduce((a, b) => (dot(query, a.embedding) >= dot(query, b.embedding) ? a : b));
