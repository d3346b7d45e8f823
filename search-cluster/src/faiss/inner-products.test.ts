import { describe, expect, it } from 'vitest';
import { innerProducts, MAX_INNER_PRODUCT_FLOATS } from './inner-products.ts';
import { seededRandom } from './synthetic.ts';

function floats(count: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from({ length: count }, () => random() * 2 - 1);
}

describe('innerProducts', () => {
  it('scores the query at its offset against every row, in row order', () => {
    for (const d of [1, 5, 31, 64, 512, 513]) {
      const rows = floats(7 * d, d);
      // the query sits after other floats, in a view that does not start at its buffer's start
      const packed = floats(3 * d + 2, d + 1).subarray(2);
      const out = innerProducts(rows, d, packed, d);
      expect(out).toHaveLength(7);
      for (let r = 0; r < 7; r++) {
        let exact = 0;
        let bound = 0;
        for (let i = 0; i < d; i++) {
          exact += rows[r * d + i]! * packed[d + i]!;
          bound += Math.abs(rows[r * d + i]! * packed[d + i]!);
        }
        expect(Math.abs(out[r]! - exact)).toBeLessThanOrEqual(bound * 1e-6 + 1e-7);
      }
    }
  });

  it('answers an empty matrix with no scores', () => {
    expect(innerProducts(new Float32Array(0), 4, floats(4, 1))).toHaveLength(0);
  });

  it('refuses part rows, matrices past its bound, a query out of range and wrong types', () => {
    const query = floats(8, 2);
    expect(() => innerProducts(floats(10, 3), 4, query)).toThrow(RangeError);
    expect(() => innerProducts(new Float32Array(MAX_INNER_PRODUCT_FLOATS + 8), 8, query)).toThrow(RangeError);
    expect(() => innerProducts(floats(8, 3), 4, query, 5)).toThrow(RangeError);
    expect(() => innerProducts(floats(8, 3), 4, query, -1)).toThrow(RangeError);
    expect(() => innerProducts(floats(8, 3), 0, query)).toThrow(TypeError);
    expect(() => innerProducts([1, 2, 3, 4] as unknown as Float32Array, 4, query)).toThrow(TypeError);
    expect(() => innerProducts(floats(8, 3), 4, new Float64Array(8) as unknown as Float32Array)).toThrow(
      TypeError,
    );
  });
});
