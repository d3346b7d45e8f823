import { type FileHandle, open } from 'node:fs/promises';

/**
 * Full-precision vectors of an immutable tier, row i belonging to the tier's ids[i]. The main tier
 * re-scores its compressed short list and scans small filtered subsets exactly from here.
 */
export interface RowStore {
  readonly rows: number;
  readonly dimension: number;
  /** Resident bytes (0 for rows paged in from disk on demand). */
  readonly memoryBytes: number;
  /** The vectors of `rows`, concatenated in the order given. */
  read(rows: ArrayLike<number>): Promise<Float32Array>;
  close(): Promise<void>;
}

export class MemoryRowStore implements RowStore {
  readonly rows: number;
  constructor(
    readonly vectors: Float32Array,
    readonly dimension: number,
  ) {
    this.rows = vectors.length / dimension;
  }

  get memoryBytes(): number {
    return this.vectors.byteLength;
  }

  async read(rows: ArrayLike<number>): Promise<Float32Array> {
    const d = this.dimension;
    const out = new Float32Array(rows.length * d);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      out.set(this.vectors.subarray(row * d, row * d + d), i * d);
    }
    return out;
  }

  async close(): Promise<void> {}
}

/**
 * Rows read on demand from a little-endian float32 file (the snapshot's vectors file), so re-scoring
 * vectors stay on disk and in the page cache instead of on the heap.
 */
export class FileRowStore implements RowStore {
  readonly memoryBytes = 0;
  private constructor(
    private readonly file: FileHandle,
    readonly rows: number,
    readonly dimension: number,
    private readonly byteOffset: number,
  ) {}

  static async open(path: string, rows: number, dimension: number, byteOffset = 0): Promise<FileRowStore> {
    return new FileRowStore(await open(path, 'r'), rows, dimension, byteOffset);
  }

  async read(rows: ArrayLike<number>): Promise<Float32Array> {
    const rowBytes = this.dimension * 4;
    const out = new Float32Array(rows.length * this.dimension);
    const bytes = new Uint8Array(out.buffer);
    // one pread per row, a bounded number in flight so a big scan does not flood the libuv pool
    const inFlight = 16;
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < rows.length; i = next++) {
        const position = this.byteOffset + rows[i]! * rowBytes;
        const { bytesRead } = await this.file.read(bytes, i * rowBytes, rowBytes, position);
        if (bytesRead !== rowBytes) throw new Error(`short read of row ${rows[i]} (${bytesRead} bytes)`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, rows.length) }, worker));
    return out;
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}
