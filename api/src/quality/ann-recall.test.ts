import { describe, expect, it } from 'vitest';
import { measureAnnRecall, sampleImageQueries } from './ann-recall.ts';
import type { VersionVectors } from './quality.repository.ts';

const unit = (values: number[]) => {
  const v = Float32Array.from(values);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

function setOf(rows: number[][]): VersionVectors {
  const dimension = rows[0]!.length;
  const vectors = new Float32Array(rows.length * dimension);
  for (const [i, r] of rows.entries()) vectors.set(unit(r), i * dimension);
  return { modelVersion: 'v', dimension, ids: rows.map((_, i) => BigInt(i + 1)), vectors };
}

describe('ANN recall', () => {
  const set = setOf(Array.from({ length: 30 }, (_, i) => [Math.cos(i / 5), Math.sin(i / 5), (i % 3) / 10]));
  const exactSearcher = {
    async search(_m: string, q: Float32Array, k: number) {
      const scored = set.ids.map((id, row) => {
        let s = 0;
        for (let j = 0; j < set.dimension; j++) s += q[j]! * set.vectors[row * set.dimension + j]!;
        return { id, score: s };
      });
      return { hits: scored.sort((a, b) => b.score - a.score).slice(0, k), partial: false };
    },
  };

  it('an index that answers like the exact search has recall 1, text and image apart', async () => {
    const recall = await measureAnnRecall({
      searcher: exactSearcher,
      vectors: set,
      textQueries: [unit([1, 0.2, 0])],
      imageQueries: sampleImageQueries(set, 5),
    });
    expect(recall).toMatchObject({ text: 1, image: 1, textQueries: 1, imageQueries: 5, k: 10 });
  });

  it('an index that lost half of its vectors is measured as such', async () => {
    const lossy = {
      async search(m: string, q: Float32Array, k: number) {
        const all = await exactSearcher.search(m, q, set.ids.length);
        return { hits: all.hits.filter((h) => h.id % 2n === 0n).slice(0, k), partial: false };
      },
    };
    const recall = await measureAnnRecall({
      searcher: lossy,
      vectors: set,
      textQueries: [],
      imageQueries: sampleImageQueries(set, 6),
    });
    expect(recall.text).toBeNull();
    expect(recall.image).toBeGreaterThan(0.3);
    expect(recall.image).toBeLessThan(0.7);
  });
});
