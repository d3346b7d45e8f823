/** bench:search's queries and its seeded corpus (bench/search.ts's header says what and why). */
import { groupCentres, seededRandom, unitVectorsAround } from '../../search-cluster/src/faiss/synthetic.ts';
import { COLOUR_NAMES } from '../../test/fixtures/images/make-images.ts';

/** Colour words and halves: 10 solids (the corpus's anchors) and 30 two-colour phrases, 40 distinct queries. */
export function vocabulary(): string[] {
  const words: string[] = [...COLOUR_NAMES];
  const some = COLOUR_NAMES.slice(0, 6);
  for (const a of some) for (const b of some) if (a !== b) words.push(`${a} top ${b} bottom`);
  return words;
}

/** The corpus (bench/search.ts's header): images per group, group angles' intrinsic dimension, member noise, seed. */
export const CORPUS = { groupSize: 30, intrinsicDimension: 16, memberSpread: 0.5, seed: 42 } as const;

/**
 * The bench's corpus as a stream of batches (bench/search.ts's header): groups around the anchors' embeddings, one
 * PRNG stream, so the rows do not depend on the batch size. Returns each row's anchor too.
 */
export function groupedCorpus(anchors: Float32Array[], total: number) {
  const dimension = anchors[0]!.length;
  const packed = new Float32Array(anchors.length * dimension);
  for (const [i, a] of anchors.entries()) packed.set(a, i * dimension);
  const perAnchor = Math.max(1, Math.ceil(total / (anchors.length * CORPUS.groupSize)));
  const centres = groupCentres({
    anchors: packed,
    dimension,
    perAnchor,
    intrinsicDimension: CORPUS.intrinsicDimension,
    seed: CORPUS.seed,
  });
  const rows = unitVectorsAround(centres, dimension, seededRandom(CORPUS.seed + 1), CORPUS.memberSpread);
  return (count: number) => {
    const { vectors, centre } = rows(count);
    return { vectors, anchor: Uint32Array.from(centre, (g) => Math.floor(g / perAnchor)) };
  };
}
