import { COLOUR_NAMES, makeColourImage } from '../../test/fixtures/images/make-images.ts';

/** The encoder bench's inputs: 64 short captions and 32 two-colour 512x512 JPEGs. */
export interface EncodeInputs {
  texts: string[];
  images: Buffer[];
}

export async function encodeInputs(): Promise<EncodeInputs> {
  const texts = Array.from({ length: 64 }, (_, i) => {
    const a = COLOUR_NAMES[i % COLOUR_NAMES.length]!;
    const b = COLOUR_NAMES[(i * 7 + 3) % COLOUR_NAMES.length]!;
    return i % 2 ? `a photo of a ${a} car parked next to a ${b} wall` : `${a} top ${b} bottom`;
  });
  const images = await Promise.all(
    Array.from({ length: 32 }, (_, i) =>
      makeColourImage({
        top: COLOUR_NAMES[i % COLOUR_NAMES.length]!,
        bottom: COLOUR_NAMES[(i + 3) % COLOUR_NAMES.length]!,
        size: 512,
        format: 'jpeg',
      }),
    ),
  );
  return { texts, images };
}

/** The `i`th batch of `n` items, wrapping around. */
export const batchOf = <T>(items: T[], i: number, n: number) =>
  Array.from({ length: n }, (_, k) => items[(i * n + k) % items.length]!);
