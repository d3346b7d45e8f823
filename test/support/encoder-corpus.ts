import { createEncoder, type Encoder } from '../../api/src/encoder/encoder.ts';
import { makeColourImage, type SyntheticImage, syntheticImageSet } from '../fixtures/images/make-images.ts';

/** The encoder tests' shared set-up: the synthetic colour corpus, encoded by a model under test. */

export const quietLogger = { info: () => {}, warn: () => {} };

export const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

export type EmbeddedImage = SyntheticImage & { embedding: Float32Array };

export interface Loaded {
  encoder: Encoder;
  corpus: EmbeddedImage[];
}

export interface ColourSet {
  images: SyntheticImage[];
  bytes: Buffer[];
}

/** The synthetic image set and its bytes, half PNG and half JPEG: lossy colours must not change answers. */
export async function colourCorpus(): Promise<ColourSet> {
  const images = syntheticImageSet();
  const bytes = await Promise.all(
    images.map((image, i) => makeColourImage({ ...image.spec, format: i % 2 ? 'jpeg' : 'png' })),
  );
  return { images, bytes };
}

/** Each image with the embedding `encoder` gives its bytes. */
export async function embedCorpus(encoder: Encoder, { images, bytes }: ColourSet): Promise<EmbeddedImage[]> {
  const embeddings = await encoder.encodeImages(bytes);
  return images.map((image, i) => ({ ...image, embedding: embeddings[i]! }));
}

/** The corpus image whose embedding is closest to `query`. */
const nearest = (corpus: EmbeddedImage[], query: Float32Array): EmbeddedImage =>
  corpus.reduce((a, b) => (dot(query, a.embedding) >= dot(query, b.embedding) ? a : b));

/** Per corpus image: its text query, its own name, and the name of the image that query ranks first. */
export async function textQueryWinners({ encoder, corpus }: Loaded) {
  const queries = await encoder.encodeTexts(corpus.map((c) => c.query));
  return queries.map((q, i) => ({
    query: corpus[i]!.query,
    own: corpus[i]!.name,
    best: nearest(corpus, q).name,
  }));
}

/** Loads `model` (no batching wait) and embeds the colour set with it (a fresh one unless given). */
export async function loadWithCorpus(model: string, set?: ColourSet): Promise<Loaded> {
  const encoder = await createEncoder({ model, logger: quietLogger, maxWaitMs: 0 });
  return { encoder, corpus: await embedCorpus(encoder, set ?? (await colourCorpus())) };
}
