/**
 * Argument checks for the FAISS wrapper. They run before anything reaches the addon, so a bad
 * argument is a clear error here and never undefined behaviour in C++.
 */

/** Largest k a search accepts (the product's limit on one shard's answer). */
export const MAX_K = 1000;
/** Largest vector dimension accepted. */
export const MAX_DIMENSION = 65_536;
/** Largest nprobe / efSearch accepted. */
export const MAX_SEARCH_PARAMETER = 65_536;

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (ArrayBuffer.isView(value)) return value.constructor.name;
  if (Array.isArray(value)) return 'Array';
  return String(value);
}

/** "Expected positive integer for k but received -1 of type number" */
export function invalidParameterError(name: string, expected: string, actual: unknown): TypeError {
  return new TypeError(
    `Expected ${expected} for ${name} but received ${describe(actual)} of type ${typeof actual}`,
  );
}

export function assertPositiveInteger(value: unknown, name: string, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw invalidParameterError(name, 'positive integer', value);
  }
  if (value > max) throw new RangeError(`Expected ${name} at most ${max} but received ${value}`);
}

export function assertDimension(value: unknown): asserts value is number {
  assertPositiveInteger(value, 'dimension', MAX_DIMENSION);
}

export function assertFactory(value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalidParameterError('factory', 'non-empty FAISS factory string', value);
  }
}

export function assertPath(value: unknown): asserts value is string {
  if (typeof value !== 'string' || value === '')
    throw invalidParameterError('path', 'non-empty string', value);
}

export function assertFloat32Array(value: unknown, name: string): asserts value is Float32Array {
  if (!(value instanceof Float32Array)) throw invalidParameterError(name, 'Float32Array', value);
}

/**
 * A tier's row store (whole rows of `dimension`, any count, values not checked: it is ours, not
 * the caller's); returns its row count.
 */
export function assertRowStore(value: unknown, name: string, dimension: number): number {
  assertFloat32Array(value, name);
  if (value.length % dimension !== 0)
    throw new RangeError(
      `Expected ${name} length to be a multiple of dimension ${dimension} but received ${value.length}`,
    );
  return value.length / dimension;
}

export function assertIds(value: unknown, name: string): asserts value is BigInt64Array {
  if (!(value instanceof BigInt64Array)) throw invalidParameterError(name, 'BigInt64Array', value);
}

/**
 * Checks a batch of row vectors and returns how many rows it holds. NaN or an infinity would
 * poison every distance computed against it, so they are refused here.
 */
export function assertVectors(value: unknown, name: string, dimension: number): number {
  assertFloat32Array(value, name);
  if (value.length % dimension !== 0) {
    throw new RangeError(
      `Expected ${name} length to be a multiple of dimension ${dimension} but received ${value.length}`,
    );
  }
  if (value.length === 0) throw new RangeError(`Expected at least one vector in ${name} but received none`);
  for (let i = 0; i < value.length; i++) {
    const x = value[i]!;
    // x - x is 0 for every finite number and NaN for NaN and both infinities.
    if (x - x !== 0) throw new RangeError(`Expected finite values in ${name} but found ${x} at index ${i}`);
  }
  return value.length / dimension;
}

/** Ids are ours and int64; -1 is FAISS's "no result" marker, so no id may be negative. */
export function assertIdList(
  value: unknown,
  name: string,
  expectedLength?: number,
): asserts value is BigInt64Array {
  assertIds(value, name);
  if (expectedLength !== undefined && value.length !== expectedLength) {
    throw new RangeError(
      `Expected ${name} length ${expectedLength} (one per vector) but received ${value.length}`,
    );
  }
  for (let i = 0; i < value.length; i++) {
    if (value[i]! < 0n)
      throw new RangeError(`Expected non-negative ids in ${name} but found ${value[i]} at index ${i}`);
  }
}

/** Build-time parameters of a new index. */
export interface CreateOptions {
  /** HNSW (also an HNSW coarse quantizer): candidate list size while linking the graph; default FAISS's 40. */
  efConstruction?: number;
}

export function assertCreateOptions(value: unknown): asserts value is CreateOptions {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidParameterError('options', 'object', value);
  }
  for (const key of Object.keys(value)) {
    if (key !== 'efConstruction') throw invalidParameterError('create option', 'efConstruction', key);
  }
  const { efConstruction } = value as Record<string, unknown>;
  if (efConstruction !== undefined)
    assertPositiveInteger(efConstruction, 'efConstruction', MAX_SEARCH_PARAMETER);
}

/** Per-call search parameters. */
export interface SearchOptions {
  /** IVF: inverted lists probed per query; default the index's own (FAISS: 1). Ignored by other kinds. */
  nprobe?: number;
  /** HNSW (also an HNSW coarse quantizer): candidate list size; default the index's own (FAISS: 16). Ignored by other kinds. */
  efSearch?: number;
  /**
   * Only these ids may be returned; default: every id. A FAISS id selector, except with IVF fast scan
   * (which takes none in FAISS 1.7.3): there the addon keeps the allowed ids of a result list it
   * lengthens until k are found or the probed lists run out.
   */
  allowedIds?: BigInt64Array;
}

const SEARCH_OPTION_NAMES = ['nprobe', 'efSearch', 'allowedIds'];

export function assertSearchOptions(value: unknown): asserts value is SearchOptions | undefined {
  if (value === undefined) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidParameterError('options', 'object', value);
  }
  for (const key of Object.keys(value)) {
    if (!SEARCH_OPTION_NAMES.includes(key)) {
      throw invalidParameterError('search option', `one of ${SEARCH_OPTION_NAMES.join(', ')}`, key);
    }
  }
  const options = value as Record<string, unknown>;
  if (options.nprobe !== undefined) assertPositiveInteger(options.nprobe, 'nprobe', MAX_SEARCH_PARAMETER);
  if (options.efSearch !== undefined)
    assertPositiveInteger(options.efSearch, 'efSearch', MAX_SEARCH_PARAMETER);
  if (options.allowedIds !== undefined) assertIds(options.allowedIds, 'allowedIds');
}
