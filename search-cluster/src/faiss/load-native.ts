import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fromPackageRoot } from '../runtime/package-root.ts';
import type { CellScanArgs } from './score-rows.ts';

/** The kinds of index the addon tells apart (the rest is `other`). */
export type IndexKind = 'flat' | 'hnsw' | 'ivf' | 'other';

export interface NativeSearchResult {
  distances: Float32Array;
  ids: BigInt64Array;
}

/** One FAISS index inside the addon. It has no lock: FaissIndex orders calls on it. */
export interface NativeIndex {
  readonly dimension: number;
  readonly count: number;
  readonly isTrained: boolean;
  readonly memoryBytes: number;
  readonly kind: IndexKind;
  train(vectors: Float32Array): Promise<void>;
  add(vectors: Float32Array, ids: BigInt64Array): Promise<void>;
  remove(ids: BigInt64Array): Promise<number>;
  /** With `rescore`, the k results per query are re-scored exactly against it and the `rescoreK` best returned (search.cc). */
  search(
    queries: Float32Array,
    k: number,
    options?: {
      nprobe?: number;
      efSearch?: number;
      allowedIds?: BigInt64Array;
      rescore?: NativeVectorFile;
      rescoreK?: number;
    },
  ): Promise<NativeSearchResult>;
  write(path: string): Promise<void>;
  toBuffer(): Promise<Buffer>;
  close(): void;
}

/** scoreRows' arguments (score-rows.ts checks them). */
export type ScoreRowsArgs = [
  vectors: Float32Array,
  dimension: number,
  queries: Float32Array,
  rows: Int32Array,
  perQuery: number,
  k: number,
];

/** Full-precision vectors memory-mapped for exact re-scoring (see vector-file.ts). */
export interface NativeVectorFile {
  readonly count: number;
  readonly dimension: number;
  rescore(queries: Float32Array, candidates: BigInt64Array, k: number): Promise<NativeSearchResult>;
  /** See score-rows.ts#scoreCells. */
  scoreCells(...args: CellScanArgs): Promise<NativeSearchResult>;
  close(): void;
}

export interface NativeAddon {
  create(dimension: number, factory: string, efConstruction?: number): NativeIndex;
  read(path: string): Promise<NativeIndex>;
  fromBuffer(bytes: Uint8Array): Promise<NativeIndex>;
  openVectorFile(path: string): NativeVectorFile;
  /** See score-rows.ts. */
  scoreRows(...args: ScoreRowsArgs): Promise<NativeSearchResult>;
  /** See inner-products.ts. */
  innerProducts(rows: Float32Array, dimension: number, query: Float32Array, offset: number): Float32Array;
  /** See live-rows.ts. */
  liveRows(allowed: BigInt64Array, rowAt: Int32Array, base: bigint, dead: Uint8Array): Int32Array;
  /** See score-rows.ts#scoreCells. */
  scoreCells(vectors: Float32Array, dimension: number, ...args: CellScanArgs): Promise<NativeSearchResult>;
  /** See mapped-bytes.ts. */
  mapBytes(path: string): ArrayBuffer;
  setThreads(threads: number): void;
  getThreads(): number;
  /** Whether the addon links the AVX2 FAISS build (false: Debian's generic library). */
  readonly avx2: boolean;
  /**
   * Whether the linked FAISS has the HNSW candidate-heap fix (infra/faiss-patches), probed on the
   * library itself when the addon loads; absent in an addon built before the probe existed.
   */
  readonly hnswHeapFixed?: boolean;
  /** Whether the linked FAISS has the four-accumulator inner product (infra/faiss-patches), probed likewise. */
  readonly innerProductUnrolled?: boolean;
}

/** Which FAISS an addon links: every benchmark result and recall test says it. */
export interface FaissBuild {
  /** `avx2`: built for this CPU by infra/scripts/build-faiss.sh; `generic`: Debian's libfaiss. */
  simd: 'avx2' | 'generic';
  /** HNSW search has the candidate-heap fix (infra/faiss-patches/0001-hnsw-minimax-heap.patch). */
  hnswHeapFixed: boolean;
  /** Inner products sum in four accumulators (infra/faiss-patches/0002-unrolled-inner-product.patch). */
  innerProductUnrolled: boolean;
  /** One line for logs and reports, e.g. "avx2 (build-faiss.sh), patched: HNSW heap fix, unrolled inner product". */
  label: string;
}

/** Names the build an addon links, from what the addon reports about itself. */
export function describeBuild(
  addon: Pick<NativeAddon, 'avx2' | 'hnswHeapFixed' | 'innerProductUnrolled'>,
): FaissBuild {
  const simd = addon.avx2 ? 'avx2' : 'generic';
  const hnswHeapFixed = addon.hnswHeapFixed === true;
  const innerProductUnrolled = addon.innerProductUnrolled === true;
  const library = addon.avx2 ? 'avx2 (build-faiss.sh)' : "generic (Debian's libfaiss)";
  const rebuild = addon.avx2 ? ' (rerun infra/scripts/build-faiss.sh, then npm run build:native)' : '';
  const applied = [hnswHeapFixed && 'HNSW heap fix', innerProductUnrolled && 'unrolled inner product'].filter(
    (name): name is string => typeof name === 'string',
  );
  const missing = [
    !hnswHeapFixed && 'HNSW heap bug',
    !innerProductUnrolled && 'one-accumulator inner product',
  ].filter((name): name is string => typeof name === 'string');
  const parts = [
    ...(applied.length > 0 ? [`patched: ${applied.join(', ')}`] : []),
    ...(missing.length > 0 ? [`unpatched: ${missing.join(', ')}${rebuild}`] : []),
  ];
  return { simd, hnswHeapFixed, innerProductUnrolled, label: `FAISS 1.7.3 ${library}, ${parts.join('; ')}` };
}

/** Where `npm run build:native` puts the addon; PIXELFIND_FAISS_ADDON (see useNativeAddon) overrides it. */
export const DEFAULT_ADDON_PATH = fromPackageRoot('search-cluster/native/build/Release/pixelfind_faiss.node');

let configuredPath = DEFAULT_ADDON_PATH;

/** Sets the addon path for this process (from its configuration), before the first index opens. */
export function useNativeAddon(path: string | null): void {
  configuredPath = path ?? DEFAULT_ADDON_PATH;
}

const FIX =
  'Install FAISS and its libraries with `apt-get install libfaiss-dev libopenblas-dev liblapack-dev` ' +
  '(or run `bash infra/scripts/build-faiss.sh`, which also builds FAISS for this CPU), then `npm run build:native`.';

const require = createRequire(import.meta.url);
const loaded = new Map<string, NativeAddon>();

/** Loads the addon once per path; when it fails, the error says what to install and run. */
export function loadNative(path: string = configuredPath): NativeAddon {
  const cached = loaded.get(path);
  if (cached) return cached;
  if (!existsSync(path)) {
    throw new Error(`The FAISS addon is not built: ${path} does not exist. ${FIX}`);
  }
  let addon: NativeAddon;
  try {
    addon = require(path) as NativeAddon;
  } catch (error) {
    const reason = (error as Error).message;
    const hint = /cannot open shared object|undefined symbol/.test(reason)
      ? 'A shared library it links is missing or does not match the one it was built against. '
      : '';
    throw new Error(`Could not load the FAISS addon ${path}: ${reason}. ${hint}${FIX}`, { cause: error });
  }
  loaded.set(path, addon);
  return addon;
}
