import { loadNative } from './load-native.ts';
import { assertIds, invalidParameterError } from './options.ts';

/** A tier's id-to-row table when its ids fill a dense range: id's row is rowAt[id - base], -1 none. */
export interface DenseRows {
  rowAt: Int32Array;
  base: bigint;
}

/**
 * The rows of `allowed` ids in a tier with dense ids, without the rows marked 1 in `dead` (one byte
 * per row of the tier) and without repeats, in the order given; natively and synchronously (a
 * filtered search maps every allowed id, about 5 ns each in JavaScript, under 1 natively).
 */
export function liveRows(allowed: BigInt64Array, table: DenseRows, dead: Uint8Array): Int32Array {
  assertIds(allowed, 'allowed');
  if (!(table.rowAt instanceof Int32Array)) throw invalidParameterError('rowAt', 'Int32Array', table.rowAt);
  if (typeof table.base !== 'bigint') throw invalidParameterError('base', 'bigint', table.base);
  if (!(dead instanceof Uint8Array)) throw invalidParameterError('dead', 'Uint8Array', dead);
  return loadNative().liveRows(allowed, table.rowAt, table.base, dead);
}
