import { describe, expect, it } from 'vitest';
import { normalize as l2normalize } from '../../../search-cluster/src/index.ts';
import { bufferToVector, fuseEarly, fuseLate, vectorToBuffer } from './vectors.ts';

const v = (...xs: number[]) => Float32Array.from(xs);

describe('query vectors', () => {
  it('early fusion weighs the text side by alpha and renormalises', () => {
    const text = v(1, 0);
    const image = v(0, 1);
    const half = fuseEarly(text, image, 0.5);
    expect(half[0]).toBeCloseTo(Math.SQRT1_2);
    expect(half[1]).toBeCloseTo(Math.SQRT1_2);
    expect([...fuseEarly(text, image, 1)]).toEqual([1, 0]);
    expect([...fuseEarly(text, image, 0)]).toEqual([0, 1]);
    expect(() => fuseEarly(v(1, 0, 0), image, 0.5)).toThrow(/dimension/);
  });

  it('late fusion merges by alpha * s_text + (1 - alpha) * s_image, a missing side at its floor', () => {
    const merged = fuseLate(
      [
        { id: 1n, score: 0.9 },
        { id: 2n, score: 0.5 },
      ],
      [
        { id: 2n, score: 0.9 },
        { id: 3n, score: 0.4 },
      ],
      0.5,
    );
    expect(merged.map((h) => h.id)).toEqual([2n, 1n, 3n]);
    expect(merged[0]!.score).toBeCloseTo(0.7);
    expect(merged[1]!.score).toBeCloseTo(0.65); // 0.5 * 0.9 + 0.5 * 0.4 (image floor)
  });

  it('round-trips float32 bytes, also from an unaligned buffer', () => {
    const original = l2normalize(v(3, 4, 12));
    const bytes = Buffer.concat([Buffer.from([7]), vectorToBuffer(original)]).subarray(1);
    expect([...bufferToVector(bytes)]).toEqual([...original]);
    expect(() => l2normalize(v(0, 0))).toThrow(/zero/);
  });
});
