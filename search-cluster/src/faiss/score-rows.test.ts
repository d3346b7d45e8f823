import { describe, expect, it } from 'vitest';
import { FaissIndex } from './faiss-index.ts';
import { scoreRows } from './score-rows.ts';

// Every tail the inner-product kernel has (infra/faiss-patches/0002-unrolled-inner-product.patch):
// four 8-float accumulators over blocks of 32, then single 8-float steps, a 4-float step, a
// masked read of 1-3 floats; and the 512 of ViT-B/32 embeddings.
const DIMENSIONS = [
  1, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 36, 40, 63, 64, 65, 100, 127, 128, 129, 511, 512, 513,
];
const ROWS = 40;

/** Seeded values in [-1, 1), some large, so a kernel that drops or doubles a float shows. */
function values(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const unit = (state >>> 0) / 2 ** 32;
    out[i] = (unit * 2 - 1) * (i % 11 === 0 ? 8 : 1);
  }
  return out;
}

/** The inner product in double precision and the sum of |x_i y_i| that bounds float rounding. */
function reference(
  query: Float32Array,
  rows: Float32Array,
  row: number,
  d: number,
): { exact: number; scale: number } {
  let exact = 0;
  let scale = 0;
  for (let i = 0; i < d; i++) {
    const product = query[i]! * rows[row * d + i]!;
    exact += product;
    scale += Math.abs(product);
  }
  return { exact, scale };
}

describe('the SIMD inner product, through the paths that use it', () => {
  it.each(DIMENSIONS)(
    'scoreRows and a Flat search score %i-d rows as the double-precision sum does',
    async (d) => {
      const rows = values(ROWS * d, 1000 + d);
      const query = values(d, 7 + d);
      const all = Int32Array.from({ length: ROWS }, (_, i) => i);
      const scored = await scoreRows(rows, d, query, all, ROWS, ROWS);
      const flat = FaissIndex.create(d, 'Flat');
      try {
        await flat.add(
          rows,
          BigInt64Array.from({ length: ROWS }, (_, i) => BigInt(i)),
        );
        const searched = await flat.search(query, ROWS);
        for (const result of [scored, searched]) {
          const seen = new Set<number>();
          for (let j = 0; j < ROWS; j++) {
            const row = Number(result.ids[j]!);
            seen.add(row);
            const { exact, scale } = reference(query, rows, row, d);
            // float32 sums of d products: error within a few ulps of the magnitudes summed
            expect(Math.abs(result.distances[j]! - exact)).toBeLessThanOrEqual(
              1e-6 * scale + 1e-7 * d * scale,
            );
            if (j > 0) expect(result.distances[j]!).toBeLessThanOrEqual(result.distances[j - 1]!);
          }
          expect(seen.size).toBe(ROWS);
        }
      } finally {
        flat.close();
      }
    },
  );
});

describe('scoreRows on the calling thread and on the pool', () => {
  it('gives the same answer for a small call (scored inline) and a large one (on the libuv pool)', async () => {
    const d = 512;
    const count = 400;
    const rows = values(count * d, 99);
    const query = values(d, 5);
    // 100 rows x 512 floats is under the inline limit (65,536 floats), 400 rows over it
    const small = Int32Array.from({ length: 100 }, (_, i) => i * 4);
    const large = Int32Array.from({ length: count }, (_, i) => i);
    const inline = await scoreRows(rows, d, query, small, small.length, 10);
    const pooled = await scoreRows(rows, d, query, large, large.length, count);
    // the large call's positions are rows; keep those the small call was given, in its order
    const wanted = [...pooled.ids]
      .map(Number)
      .filter((row) => row % 4 === 0)
      .slice(0, 10);
    expect([...inline.ids].map((at) => small[Number(at)])).toEqual(wanted);
    for (const [j, at] of [...inline.ids].entries()) {
      const { exact, scale } = reference(query, rows, small[Number(at)]!, d);
      expect(Math.abs(inline.distances[j]! - exact)).toBeLessThanOrEqual(scale * 1e-6);
    }
  });
});
