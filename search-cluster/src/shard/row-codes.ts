import type { RowCodes } from '../faiss/score-rows.ts';

/** Each dimension's range is the sample's widened by this share of it on both sides. */
const RANGE_MARGIN = 0.05;
const LEVELS = 255;

/**
 * 8-bit scalar codes of a tier's rows, a byte per dimension (value ~ min + code x scale, the
 * range per dimension from a sample, values outside it clamped): what the filtered cell scan ranks
 * rows by before it scores its short list exactly (score-rows.ts#RowCodes). Their rank error is a
 * small fraction of the gap between a query's 10th and its short list's last row, which the exact
 * re-score then closes.
 */
export class RowCodeBook {
  private constructor(
    readonly dimension: number,
    readonly min: Float32Array,
    readonly scale: Float32Array,
  ) {}

  /** Ranges from `sample` (rows of `dimension`, at least one). */
  static fromSample(sample: Float32Array, dimension: number): RowCodeBook {
    const rows = sample.length / dimension;
    if (!Number.isInteger(rows) || rows < 1)
      throw new RangeError('A code book needs at least one sample row');
    const low = new Float32Array(dimension).fill(Number.POSITIVE_INFINITY);
    const high = new Float32Array(dimension).fill(Number.NEGATIVE_INFINITY);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < dimension; j++) {
        const v = sample[r * dimension + j]!;
        if (v < low[j]!) low[j] = v;
        if (v > high[j]!) high[j] = v;
      }
    }
    const min = new Float32Array(dimension);
    const scale = new Float32Array(dimension);
    for (let j = 0; j < dimension; j++) {
      const margin = RANGE_MARGIN * (high[j]! - low[j]!);
      min[j] = low[j]! - margin;
      // a constant dimension still gets a positive step
      scale[j] = Math.max((high[j]! + margin - min[j]!) / LEVELS, 1e-12);
    }
    return new RowCodeBook(dimension, min, scale);
  }

  /** Writes the codes of `vectors` (rows of the dimension) into `out` from row `firstRow` on. */
  encode(vectors: Float32Array, out: Uint8Array, firstRow: number): void {
    const d = this.dimension;
    const rows = vectors.length / d;
    for (let r = 0; r < rows; r++) {
      const at = (firstRow + r) * d;
      for (let j = 0; j < d; j++) {
        const code = Math.round((vectors[r * d + j]! - this.min[j]!) / this.scale[j]!);
        out[at + j] = Math.min(LEVELS, Math.max(0, code));
      }
    }
  }

  /** The value a code stands for (tests, diagnostics). */
  decode(code: number, dimension: number): number {
    return this.min[dimension]! + code * this.scale[dimension]!;
  }

  /** The scan's view of `bytes` (encoded by this book) with a short list of `shortList` rows. */
  codes(bytes: Uint8Array, shortList: number): RowCodes {
    return { bytes, scale: this.scale, shortList };
  }
}
