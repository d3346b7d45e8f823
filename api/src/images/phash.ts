import sharp from 'sharp';

/**
 * pHash (Zauner 2010, "Implementation and Benchmarking of Perceptual Image Hash Functions"):
 * greyscale, resized to 32x32, 2-D DCT-II, the 8x8 lowest frequencies, each bit set when its
 * coefficient is above the median of the 63 AC ones. It survives re-encoding, resizing and small
 * crops because those barely move the lowest frequencies.
 *
 * A near-flat image (solid colours, a single edge) has almost no low-frequency energy, so its
 * bits are set by noise and two unrelated flat images collide; such images get no perceptual
 * hash (`hash: null`) and are matched by their exact sha256 only. The thresholds below come from
 * `npm run bench:phash` (bench/results/phash.md).
 */

const N = 32;
const K = 8;
/** AC coefficients (orthonormal DCT, 0-255 pixels) at least this large count as structure. */
export const PHASH_SIGNIFICANT_COEFFICIENT = 2;
/** Fewer significant AC coefficients than this: the image is too flat to hash perceptually. */
export const PHASH_MIN_SIGNIFICANT = 24;
/** Hamming distance at or under which two hashes are the same content (see the bench). */
export const PHASH_MATCH_DISTANCE = 12;

const cosines: Float64Array = (() => {
  const table = new Float64Array(K * N);
  for (let u = 0; u < K; u++) {
    const scale = u === 0 ? Math.sqrt(1 / N) : Math.sqrt(2 / N);
    for (let x = 0; x < N; x++) table[u * N + x] = scale * Math.cos(((2 * x + 1) * u * Math.PI) / (2 * N));
  }
  return table;
})();

export interface PerceptualHash {
  /** 64 bits as an unsigned bigint, or null when the image is too flat to hash. */
  hash: bigint | null;
  /** How many of the 63 AC coefficients carry structure (0-63). */
  quality: number;
}

/** The 8x8 low-frequency DCT coefficients of a 32x32 greyscale image, row-major (v, u). */
export function lowFrequencies(grey: Uint8Array): Float64Array {
  const rows = new Float64Array(N * K); // DCT along x for every row
  for (let y = 0; y < N; y++) {
    for (let u = 0; u < K; u++) {
      let sum = 0;
      for (let x = 0; x < N; x++) sum += grey[y * N + x]! * cosines[u * N + x]!;
      rows[y * K + u] = sum;
    }
  }
  const out = new Float64Array(K * K);
  for (let v = 0; v < K; v++) {
    for (let u = 0; u < K; u++) {
      let sum = 0;
      for (let y = 0; y < N; y++) sum += rows[y * K + u]! * cosines[v * N + y]!;
      out[v * K + u] = sum;
    }
  }
  return out;
}

/** pHash of 32x32 greyscale pixels. */
export function phashOfPixels(grey: Uint8Array): PerceptualHash {
  const coefficients = lowFrequencies(grey);
  const ac = Array.from(coefficients.subarray(1)).sort((a, b) => a - b);
  const median = ac[Math.floor(ac.length / 2)]!;
  const quality = ac.filter((c) => Math.abs(c) >= PHASH_SIGNIFICANT_COEFFICIENT).length;
  if (quality < PHASH_MIN_SIGNIFICANT) return { hash: null, quality };
  let hash = 0n;
  for (let i = 0; i < K * K; i++) if (coefficients[i]! > median) hash |= 1n << BigInt(i);
  return { hash, quality };
}

/** pHash of encoded image bytes (any format sharp decodes; EXIF orientation applied). */
export async function perceptualHash(bytes: Buffer): Promise<PerceptualHash> {
  const grey = await sharp(bytes, { failOn: 'none', pages: 1 })
    .rotate()
    .flatten({ background: '#ffffff' })
    .greyscale()
    .resize(N, N, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return phashOfPixels(new Uint8Array(grey.buffer, grey.byteOffset, N * N));
}

export function hammingDistance(a: bigint, b: bigint): number {
  let x = BigInt.asUintN(64, a ^ b);
  let count = 0;
  while (x !== 0n) {
    x &= x - 1n;
    count++;
  }
  return count;
}

/** Postgres keeps the hash in a signed int8. */
export const phashToSql = (hash: bigint | null): string | null =>
  hash === null ? null : BigInt.asIntN(64, hash).toString();
