import { describe, expect, it } from 'vitest';
import { RowCodeBook } from './row-codes.ts';

describe('RowCodeBook', () => {
  const dimension = 3;
  // dimension 0 spans [-1, 1], dimension 1 [0, 10], dimension 2 is constant
  const sample = Float32Array.of(-1, 0, 0.5, 1, 10, 0.5, 0, 5, 0.5);
  const book = RowCodeBook.fromSample(sample, dimension);

  it('codes each dimension over the sample range plus a margin, to within half a step', () => {
    const rows = Float32Array.of(-1, 0, 0.5, 0.3, 7.7, 0.5, 1, 10, 0.5);
    const codes = new Uint8Array(rows.length);
    book.encode(rows, codes, 0);
    for (let i = 0; i < rows.length; i++) {
      const j = i % dimension;
      expect(Math.abs(book.decode(codes[i]!, j) - rows[i]!)).toBeLessThanOrEqual(book.scale[j]! / 2 + 1e-6);
    }
    // the sample's extremes sit inside the margin, not on the ends of the code range
    expect(codes[0]).toBeGreaterThan(0);
    expect(codes[6]).toBeLessThan(255);
  });

  it('clamps values outside the range and writes at the row given', () => {
    const codes = new Uint8Array(2 * dimension).fill(7);
    book.encode(Float32Array.of(-50, 50, 0.5), codes, 1);
    expect([...codes.subarray(0, 3)]).toEqual([7, 7, 7]);
    expect(codes[3]).toBe(0);
    expect(codes[4]).toBe(255);
    expect(book.scale[2]).toBeGreaterThan(0);
  });

  it('needs a sample row', () => {
    expect(() => RowCodeBook.fromSample(new Float32Array(0), dimension)).toThrow(/at least one sample row/);
  });
});
