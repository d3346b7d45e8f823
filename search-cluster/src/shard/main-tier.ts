import { liveRows } from '../faiss/live-rows.ts';
import type { CellScan } from '../faiss/score-rows.ts';
import type { NprobeCalibration } from '../rebuild/calibrate-nprobe.ts';
import { NATIVE_MAX_K } from './faiss-factory.ts';
import { FilterCells } from './filter-cells.ts';
import { IdTable } from './int64.ts';
import type { RowStore } from './row-store.ts';
import type { Hit } from './topk.ts';
import type { VectorIndex, VectorIndexFactory, VectorSearchOptions } from './vector-index.ts';

export type MainTierKind = 'flat' | 'hnsw' | 'ivfpq';

/** The rows of a candidate list handed to a store that scores by id (it reads none). */
const EMPTY_ROWS = new Int32Array(0);

/** How a main tier searches; fixed when it is built, stored in its snapshot. */
export interface MainTierSearchParams {
  /** IVF lists probed when the query names none (at least MIN_NPROBE_SHARE of the lists). */
  nprobe: number;
  /** HNSW candidate list size when the query names none. */
  efSearch: number;
  /** IVF-PQ: candidates per wanted result that are re-scored with full-precision vectors. */
  rescoreFactor: number;
}

/**
 * The share of an IVF tier's lists a search probes at least when it names no nprobe. A fixed
 * nprobe probes ever less of a growing tier (32 of IVF2048 is 1.6%); bench:ann (100k x 512,
 * IVF512 fast scan) needed 1/4 of the lists for recall@10 0.95 on image queries and 1/2 on text.
 */
export const MIN_NPROBE_SHARE = 1 / 8;

/**
 * The share's cap. nlist grows as sqrt(n), so a floor of a fixed share of the lists scans a fixed
 * share of the tier (1/8 of every code), which grows linearly with the shard: 1,024 lists of a
 * 15.6M-vector shard's IVF8192. A query's neighbours do not spread over ever more lists as a shard
 * grows the way the lists multiply: at 1M x 512 (2 shards of IVF2048) served recall was flat from
 * nprobe 32 to 512 (bench/results/search.md), and the capacity plan sizes 128 / 256.
 */
export const MAX_DEFAULT_NPROBE = 256;

/**
 * The nprobe an IVF tier of `factory` probes by default: the configured one, or 1/8 of its lists
 * (at most MAX_DEFAULT_NPROBE) if more. A build's calibration on the tier's own rows may lower it
 * (rebuild/calibrate-nprobe.ts); this is then its ceiling.
 */
export function defaultNprobe(factory: string, configured: number): number {
  const lists = /^IVF(\d+)/.exec(factory);
  if (!lists) return configured;
  return Math.max(configured, Math.min(MAX_DEFAULT_NPROBE, Math.ceil(Number(lists[1]) * MIN_NPROBE_SHARE)));
}

export interface MainTierInit {
  kind: MainTierKind;
  factory: string;
  index: VectorIndex;
  /** Row order of `store`; unique. */
  ids: BigInt64Array;
  store: RowStore;
  /** Source watermark the tier was built at. */
  watermark: bigint;
  params: MainTierSearchParams;
  /**
   * An IVF tier's measured default nprobe (rebuild/calibrate-nprobe.ts), in place of
   * `defaultNprobe`'s rule; the configured nprobe stays the floor. Default: the rule.
   */
  calibration?: NprobeCalibration;
  /** When the tier's data was built (ms since the epoch; a loaded snapshot's createdAt). Default now. */
  builtAt?: number;
}

export interface TierQueryOptions {
  nprobe?: number;
  efSearch?: number;
  allowedIds?: BigInt64Array;
}

/**
 * The immutable, batch-built tier of a shard. Its vectors never change; deleting (or shadowing by a
 * newer vector in the hot tier) marks an id in `deleted`. Flat and IVF indexes then drop the id
 * physically; HNSW cannot, so the id stays inside the graph as a tombstone and searches fetch that
 * many extra candidates. A rebuild starts the next tier clean.
 */
export class MainTier {
  readonly kind: MainTierKind;
  readonly factory: string;
  readonly index: VectorIndex;
  readonly ids: BigInt64Array;
  readonly table: IdTable;
  readonly store: RowStore;
  readonly watermark: bigint;
  readonly params: MainTierSearchParams;
  /** What the build measured of the default nprobe, when it calibrated one. */
  readonly calibration: NprobeCalibration | null;
  readonly dimension: number;
  /** When the tier's data was built (ms since the epoch): the snapshot age metric reads it. */
  readonly builtAt: number;
  /** Ids no longer live in this tier (deleted, or replaced by a newer hot-tier vector). */
  readonly deleted = new Set<bigint>();
  /** Deleted ids still inside the ANN index (tombstones): searches over-fetch by this many. */
  private readonly ghosts = new Set<bigint>();
  /** 1 at the row of each id in `deleted`: row scans skip them without a BigInt lookup. */
  private readonly deadRows: Uint8Array;
  /** `liveRowsOf` marks the rows it took with its call's stamp (dedupe without a Set). */
  private rowStamps: Uint32Array | null = null;
  private stamp = 0;
  private cells: Promise<FilterCells> | null = null;
  private cellsBytes = 0;
  private refs = 0;
  private retired = false;
  private closed = false;

  constructor(init: MainTierInit) {
    this.kind = init.kind;
    this.factory = init.factory;
    this.index = init.index;
    this.ids = init.ids;
    this.table = new IdTable(init.ids);
    this.store = init.store;
    this.watermark = init.watermark;
    // a calibration only lowers the rule's default: one read from a snapshot (meta.json is
    // data, maybe written by another build or by hand) never raises it
    const ceiling = defaultNprobe(init.factory, init.params.nprobe);
    this.params = {
      ...init.params,
      nprobe:
        init.calibration === undefined
          ? ceiling
          : Math.min(ceiling, Math.max(init.params.nprobe, init.calibration.nprobe)),
    };
    this.calibration = init.calibration ?? null;
    this.dimension = init.index.dimension;
    this.builtAt = init.builtAt ?? Date.now();
    this.deadRows = new Uint8Array(init.ids.length);
  }

  /** FAISS HNSW has no remove_ids; the others drop deleted ids for real. */
  get canRemove(): boolean {
    return this.kind !== 'hnsw';
  }

  get size(): number {
    return this.ids.length;
  }

  get liveCount(): number {
    return this.ids.length - this.deleted.size;
  }

  get tombstones(): number {
    return this.ghosts.size;
  }

  get memoryBytes(): number {
    const scanBytes = this.deadRows.byteLength + (this.rowStamps?.byteLength ?? 0) + this.cellsBytes;
    return (
      this.index.memoryBytes +
      this.store.memoryBytes +
      this.table.memoryBytes +
      this.ids.byteLength +
      scanBytes
    );
  }

  /** Row of a live id, or -1. */
  liveRow(id: bigint): number {
    const row = this.table.rowOf(id);
    return row >= 0 && !this.deleted.has(id) ? row : -1;
  }

  has(id: bigint): boolean {
    return this.liveRow(id) >= 0;
  }

  /** Marks ids as gone from this tier; returns how many were live here. */
  markDeleted(ids: Iterable<bigint>): number {
    let n = 0;
    for (const id of ids) {
      const row = this.table.rowOf(id);
      if (row < 0 || this.deleted.has(id)) continue;
      this.deleted.add(id);
      this.deadRows[row] = 1;
      this.ghosts.add(id);
      n++;
    }
    return n;
  }

  /** Physically removes deleted ids where the index type allows; call from the shard's write queue. */
  async removeGhosts(): Promise<void> {
    if (!this.canRemove || this.ghosts.size === 0 || this.closed) return;
    const ids = BigInt64Array.from(this.ghosts);
    await this.index.remove(ids);
    for (const id of ids) this.ghosts.delete(id);
  }

  /**
   * Best `k` live hits per query from this tier. Scores are exact inner products: Flat and HNSW
   * store full vectors; IVF-PQ re-scores a short list of `k * rescoreFactor` from the row store.
   */
  async search(queries: Float32Array, nq: number, k: number, options: TierQueryOptions): Promise<Hit[][]> {
    const extra = this.ghosts.size;
    const want = this.kind === 'ivfpq' ? Math.max(k * this.params.rescoreFactor, k + extra) : k + extra;
    const fetchK = Math.max(1, Math.min(want, this.ids.length, NATIVE_MAX_K));
    const native: VectorSearchOptions = {};
    if (options.allowedIds) native.allowedIds = options.allowedIds;
    if (this.kind === 'hnsw') native.efSearch = Math.max(options.efSearch ?? this.params.efSearch, fetchK);
    if (this.kind === 'ivfpq') native.nprobe = options.nprobe ?? this.params.nprobe;
    if (this.kind === 'ivfpq' && this.deleted.size === 0 && fetchK >= k) {
      // nothing to drop between the short list and the re-score: both in one native call
      const fused = this.store.searchRescored?.(this.index, queries, nq, fetchK, k, native);
      if (fused) return fused;
    }
    const { ids, distances } = await this.index.search(queries, fetchK, native);
    return this.collect(queries, nq, k, fetchK, ids, distances);
  }

  private async collect(
    queries: Float32Array,
    nq: number,
    k: number,
    fetchK: number,
    ids: BigInt64Array,
    distances: Float32Array,
  ): Promise<Hit[][]> {
    if (this.kind === 'ivfpq') {
      // re-score the short lists exactly: PQ distances only decide who makes the list. A file
      // store looks ids up itself, so with nothing deleted the list goes as FAISS gave it (-1n
      // pads), without a BigInt per candidate on the event loop
      if (this.deleted.size === 0 && !this.store.scoresByRow)
        return this.store.score(queries, nq, { perQuery: fetchK, ids, rows: EMPTY_ROWS }, k);
      const candidates = new BigInt64Array(nq * fetchK).fill(-1n);
      const rows = new Int32Array(nq * fetchK).fill(-1);
      for (let j = 0; j < nq * fetchK; j++) {
        const id = ids[j]!;
        if (id < 0n || this.deleted.has(id)) continue;
        candidates[j] = id;
        rows[j] = this.table.rowOf(id);
      }
      return this.store.score(queries, nq, { perQuery: fetchK, ids: candidates, rows }, k);
    }
    const perQuery: Hit[][] = [];
    for (let q = 0; q < nq; q++) {
      const hits: Hit[] = [];
      for (let j = q * fetchK; j < (q + 1) * fetchK && hits.length < k; j++) {
        const id = ids[j]!;
        if (id < 0n || this.deleted.has(id)) continue;
        hits.push({ id, score: distances[j]! });
      }
      perQuery.push(hits);
    }
    return perQuery;
  }

  /** The live rows of `allowed` (ids of other tiers or shards, deleted ones and repeats dropped). */
  liveRowsOf(allowed: BigInt64Array): Int32Array {
    // dense ids (a shard's share of sequential ids): natively, several times faster
    if (this.table.dense) return liveRows(allowed, this.table.dense, this.deadRows);
    const halves = new Uint32Array(allowed.buffer, allowed.byteOffset, allowed.length * 2);
    this.rowStamps ??= new Uint32Array(this.ids.length);
    if (this.stamp === 0xffffffff) {
      this.rowStamps.fill(0);
      this.stamp = 0;
    }
    const stamp = ++this.stamp;
    const stamps = this.rowStamps;
    const out = new Int32Array(allowed.length);
    let n = 0;
    for (let i = 0; i < allowed.length; i++) {
      const row = this.table.rowOfHalves(halves[2 * i]!, halves[2 * i + 1]!);
      if (row < 0 || this.deadRows[row] === 1 || stamps[row] === stamp) continue;
      stamps[row] = stamp;
      out[n++] = row;
    }
    return out.subarray(0, n);
  }

  /** Exact top k among the given rows of this tier for one query (`query` holds one vector). */
  scoreRows(query: Float32Array, rows: Int32Array, k: number): Promise<Hit[]> {
    const ids = new BigInt64Array(rows.length);
    // copied as 32-bit halves: reading a BigInt64Array element allocates a BigInt
    const from = new Uint32Array(this.ids.buffer, this.ids.byteOffset, this.ids.length * 2);
    const to = new Uint32Array(ids.buffer);
    for (let i = 0; i < rows.length; i++) {
      to[2 * i] = from[2 * rows[i]!]!;
      to[2 * i + 1] = from[2 * rows[i]! + 1]!;
    }
    return this.store.score(query, 1, { perQuery: rows.length, ids, rows }, k).then((hits) => hits[0]!);
  }

  /** The filtered cell scan for one query (`query` holds one vector): exact top k of its rows. */
  async scoreCells(query: Float32Array, scan: CellScan, k: number): Promise<Hit[]> {
    const { ids: rows, distances } = await this.store.scoreCells(query, scan, k);
    const hits: Hit[] = [];
    for (let j = 0; j < rows.length; j++) {
      const row = Number(rows[j]!);
      if (row >= 0) hits.push({ id: this.ids[row]!, score: distances[j]! });
    }
    return hits;
  }

  /**
   * The coarse partition filtered searches scan by (see FilterCells), built once per tier on first
   * call; the shard starts it when it installs the tier, so it is ready before filtered traffic.
   * The build holds the tier open; a failed or aborted (`signal`) build is retried by the next call.
   */
  filterCells(factory: VectorIndexFactory, signal?: AbortSignal): Promise<FilterCells> {
    if (!this.cells) {
      this.acquire();
      this.cells = FilterCells.build(this.store, this.ids.length, this.dimension, factory, signal)
        .then((cells) => {
          this.cellsBytes = cells.memoryBytes;
          return cells;
        })
        .finally(() => this.release());
      this.cells.catch(() => {
        this.cells = null;
      });
    }
    return this.cells;
  }

  /** Resolves once a cells build in flight has ended, built or failed (a closing index waits on it). */
  async cellsSettled(): Promise<void> {
    await this.cells?.catch(() => undefined);
  }

  acquire(): void {
    this.refs++;
  }

  release(): void {
    this.refs--;
    if (this.retired && this.refs === 0) void this.close();
  }

  /** Closes the tier once no search holds it (after a swap replaced it). */
  retire(): void {
    this.retired = true;
    if (this.refs === 0) void this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.index.close();
    await this.store.close();
  }
}
