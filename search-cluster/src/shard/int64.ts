// int64 ids without BigInt arithmetic on hot paths: a BigInt64Array viewed as Uint32Array gives the
// two halves of each id (little-endian, which every platform we run on is; checked below).

import { endianness } from 'node:os';

if (endianness() !== 'LE') {
  throw new Error('pixelfind search-cluster needs a little-endian CPU (typed arrays are sent as-is)');
}

const scratch = new BigInt64Array(1);
const scratchHalves = new Uint32Array(scratch.buffer);

/** Murmur3's 32-bit finaliser: every input bit affects every output bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A well-mixed 32-bit hash of the 64-bit id given as its low and high halves. */
export function hashHalves(lo: number, hi: number): number {
  return fmix32((lo ^ fmix32(hi ^ 0x9e3779b9)) >>> 0);
}

export function hashId(id: bigint): number {
  scratch[0] = id;
  return hashHalves(scratchHalves[0]!, scratchHalves[1]!);
}

/** Low and high 32-bit halves of `id` (two's complement). */
export function halves(id: bigint): [number, number] {
  scratch[0] = id;
  return [scratchHalves[0]!, scratchHalves[1]!];
}

/**
 * Open-addressing hash table from int64 id to row number, built once for an immutable tier.
 * About 12 bytes per slot and no BigInt allocation on lookups from a BigInt64Array.
 */
export class IdTable {
  readonly size: number;
  private readonly keys: Uint32Array;
  private readonly rows: Int32Array;
  private readonly mask: number;

  /** Row i of the table is ids[i]; ids must be unique. */
  constructor(ids: BigInt64Array) {
    this.size = ids.length;
    let capacity = 16;
    while (capacity < ids.length * 1.6) capacity *= 2;
    this.mask = capacity - 1;
    this.keys = new Uint32Array(capacity * 2);
    this.rows = new Int32Array(capacity).fill(-1);
    const h = new Uint32Array(ids.buffer, ids.byteOffset, ids.length * 2);
    for (let row = 0; row < ids.length; row++) {
      const lo = h[row * 2]!;
      const hi = h[row * 2 + 1]!;
      let slot = hashHalves(lo, hi) & this.mask;
      while (this.rows[slot] !== -1) {
        if (this.keys[slot * 2] === lo && this.keys[slot * 2 + 1] === hi) {
          throw new Error(`IdTable: duplicate id ${ids[row]}`);
        }
        slot = (slot + 1) & this.mask;
      }
      this.keys[slot * 2] = lo;
      this.keys[slot * 2 + 1] = hi;
      this.rows[slot] = row;
    }
  }

  rowOfHalves(lo: number, hi: number): number {
    let slot = hashHalves(lo, hi) & this.mask;
    for (;;) {
      const row = this.rows[slot]!;
      if (row === -1) return -1;
      if (this.keys[slot * 2] === lo && this.keys[slot * 2 + 1] === hi) return row;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Row of `id`, or -1. */
  rowOf(id: bigint): number {
    scratch[0] = id;
    return this.rowOfHalves(scratchHalves[0]!, scratchHalves[1]!);
  }

  get memoryBytes(): number {
    return this.keys.byteLength + this.rows.byteLength;
  }
}
