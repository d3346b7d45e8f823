// int64 ids without BigInt arithmetic on hot paths: a BigInt64Array viewed as Uint32Array gives the
// two halves of each id (little-endian, which every platform we run on is; checked below).

import { endianness } from 'node:os';
import type { DenseRows } from '../faiss/live-rows.ts';

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
 * Table from int64 id to row number, built once for an immutable tier, with no BigInt allocation
 * on lookups from a BigInt64Array. Ids that fill a dense range (within 4x their count, as a shard's
 * share of sequential image ids does) get a direct array indexed by id - min: a filtered search
 * looks up every allowed id, and one array read beats hashing by several times. Others get an
 * open-addressing hash table, about 12 bytes per slot.
 */
export class IdTable {
  readonly size: number;
  private readonly keys: Uint32Array;
  private readonly rows: Int32Array;
  private readonly mask: number;
  /** Direct mode: rows[id - base] (base's halves below); -1 marks no id. */
  private readonly direct: boolean;
  private readonly baseLo: number = 0;
  private readonly baseHi: number = 0;
  /** Direct mode's table for native lookups (faiss/live-rows.ts); null in hash mode. */
  readonly dense: DenseRows | null = null;

  /** Row i of the table is ids[i]; ids must be unique. */
  constructor(ids: BigInt64Array) {
    this.size = ids.length;
    let min = 0n;
    let max = -1n;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (i === 0 || id < min) min = id;
      if (i === 0 || id > max) max = id;
    }
    const span = max - min + 1n;
    this.direct = ids.length > 0 && min >= 0n && span <= BigInt(Math.max(1024, 4 * ids.length));
    if (this.direct) {
      [this.baseLo, this.baseHi] = halves(min);
      this.mask = 0;
      this.keys = new Uint32Array(0);
      this.rows = new Int32Array(Number(span)).fill(-1);
      for (let row = 0; row < ids.length; row++) {
        const at = Number(ids[row]! - min);
        if (this.rows[at] !== -1) throw new Error(`IdTable: duplicate id ${ids[row]}`);
        this.rows[at] = row;
      }
      this.dense = { rowAt: this.rows, base: min };
      return;
    }
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
    if (this.direct) {
      // id - base as a 64-bit difference of halves; the span fits in 32 bits
      let at = lo - this.baseLo;
      let high = hi - this.baseHi;
      if (at < 0) {
        at += 0x100000000;
        high--;
      }
      return high === 0 && at < this.rows.length ? this.rows[at]! : -1;
    }
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
