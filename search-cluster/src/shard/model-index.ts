import { performance } from 'node:perf_hooks';
import { ClusterError } from '../errors.ts';
import { buildFromSource } from '../rebuild/build-from-source.ts';
import { quarantineSnapshot, readSnapshot } from '../rebuild/snapshot.ts';
import { warnCodesInMemory } from './filter-cells.ts';
import { EMPTY, filteredSearch, type TierView } from './filtered-search.ts';
import { HotTier } from './hot-tier.ts';
import type { MainTier, MainTierSearchParams } from './main-tier.ts';
import { openMainTier } from './main-tier-load.ts';
import type {
  ModelIndexConfig,
  ModelIndexState,
  ModelIndexStats,
  RebuildOutcome,
  SearchOptions,
} from './model-index.types.ts';
import { ownsRecord } from './partition.ts';
import { rebuildReason } from './rebuild-rule.ts';
import { refillFromSource } from './refill.ts';
import type { SearchTier } from './shard-metrics.ts';
import { type Hit, mergeTopK } from './topk.ts';
import { WriteQueue } from './write-queue.ts';

export type * from './model-index.types.ts';

/**
 * One model version on one shard: a hot tier taking live writes and an immutable main tier rebuilt
 * in batch from the source of record.
 *
 * Longer than most files on purpose: what is left here is the state machine that the rules below
 * are about (which tier holds an id, the write queue, swaps, racing deletes), and splitting it
 * would spread one invariant over several files. Loading a snapshot (main-tier-load.ts), refill
 * (refill.ts), filtered exact search (filtered-search.ts) and a rebuild's read-and-build half
 * (../rebuild/build-from-source.ts) live beside it.
 *
 * Consistency rules (what the concurrency test checks):
 * - Writes (upsert, delete, swap, refill) run one at a time through `writes`, in call order.
 * - An id is live iff the hot tier holds it or the current main tier holds it undeleted. Every hit,
 *   whichever tier and whichever main tier generation it came from, is checked against that after
 *   the native searches return, so a delete that finished is never returned.
 * - Nothing is removed from a tier before the tier taking it over can serve it: an upsert adds to
 *   the hot tier before it tombstones the main tier's copy; a swap installs the new main tier
 *   before it drops the hot entries it covers. A search started on the old pair therefore still
 *   finds the id (its hit passes the liveness check through the new main tier).
 * - A replaced main tier is closed only when the last search holding it finishes.
 */
export class ModelIndex {
  readonly modelVersion: string;
  readonly dimension: number;
  state: ModelIndexState = 'loading';
  private main: MainTier | null = null;
  private readonly hot: HotTier;
  private readonly tiers: TierView;
  private readonly writes = new WriteQueue();
  private rebuildRun: Promise<RebuildOutcome> | null = null;
  /** Ids deleted while a load or rebuild reads its input: the new main tier may still hold them. */
  private racingDeletes: Set<bigint> | null = null;
  private lastRebuild: RebuildOutcome | null = null;
  private lastError: ModelIndexStats['lastError'] = null;
  private readonly closing = new AbortController();
  private retryTimer: NodeJS.Timeout | null = null;
  /** Watermark of the loaded snapshot while its changes since have not all been replayed. */
  private refillFrom: bigint | null = null;
  /** Searches in flight; close() waits for them before freeing the hot tier's native index. */
  private searches = 0;
  private searchesDone: (() => void) | null = null;

  constructor(private readonly config: ModelIndexConfig) {
    this.modelVersion = config.modelVersion;
    this.dimension = config.dimension;
    this.hot = new HotTier(
      config.factory.create(config.dimension, config.tiers.hotFactory),
      config.dimension,
    );
    this.tiers = {
      dimension: this.dimension,
      hot: this.hot,
      main: () => this.main,
      isLive: (id) => this.isLive(id),
      factory: config.factory,
      filter: {
        scanBudget: config.tiers.exactScanMaxIds,
        annMinShare: config.tiers.filterAnnShare,
        scanShare: config.tiers.filterScanShare,
      },
    };
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  get vectorCount(): number {
    return this.hot.size + (this.main?.liveCount ?? 0);
  }

  /** When the serving main tier was built (ms since the epoch); null without one. */
  get mainBuiltAt(): number | null {
    return this.main?.builtAt ?? null;
  }

  /** Is `id` searchable right now? */
  isLive(id: bigint): boolean {
    return this.hot.entries.has(id) || (this.main?.has(id) ?? false);
  }

  // ---------------------------------------------------------------- start-up

  /**
   * Loads the last snapshot and replays the source's changes since it into the hot tier; with no
   * usable snapshot, rebuilds from the source. Never throws: a failure is logged, kept in
   * `lastError`, and retried with backoff while searches answer SHARD_NOT_READY.
   */
  async open(attempt = 0): Promise<void> {
    if (this.state === 'closed') return;
    try {
      await this.load();
      if (this.state === 'loading') this.state = 'ready';
      this.config.log.info('model version ready', {
        modelVersion: this.modelVersion,
        vectors: this.vectorCount,
      });
    } catch (error) {
      // closed while loading: the failure is the shutdown itself
      if ((this.state as ModelIndexState) === 'closed') return;
      this.recordError(error);
      const delay = Math.min(30_000, this.config.tiers.loadRetryMs * 2 ** attempt);
      this.config.log.error('loading failed, retrying', {
        modelVersion: this.modelVersion,
        error: (error as Error).message,
        retryInMs: delay,
      });
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        void this.open(attempt + 1);
      }, delay);
      this.retryTimer.unref();
    }
  }

  private async load(): Promise<void> {
    const { dataDir, source } = this.config;
    this.racingDeletes ??= new Set();
    let main: MainTier | null = null;
    if (dataDir && !this.main && this.refillFrom === null) {
      try {
        const snapshot = await readSnapshot(dataDir, this.snapshotExpectation());
        if (snapshot) {
          main = await openMainTier(snapshot, {
            factory: this.config.factory,
            onDisk: this.onDisk(),
            params: this.searchParams(),
          });
        }
      } catch (error) {
        // a damaged snapshot is not fatal: shards are derived state, rebuild from the source
        this.recordError(error);
        this.config.log.error('snapshot unusable, rebuilding from source', {
          modelVersion: this.modelVersion,
          error: (error as Error).message,
        });
        await quarantineSnapshot(dataDir, this.modelVersion).catch(() => undefined);
      }
    }
    if (main) {
      const loaded = main;
      // every hot entry (written while loading) is newer than the snapshot: seq 0 keeps them all
      await this.writes.run(() => this.swap(loaded, 0));
      if (source) this.refillFrom = loaded.watermark;
    }
    if (source && this.refillFrom !== null) {
      // a refill that failed half-way is redone from the snapshot's watermark (replay is idempotent)
      const changes = await refillFromSource(source, this.refillFrom, {
        modelVersion: this.modelVersion,
        dimension: this.dimension,
        partition: this.config.partition,
        owns: (id, vector) =>
          ownsRecord(this.config.partition, this.config.placement, this.modelVersion, id, vector),
        placed: this.config.placement !== undefined,
        closed: () => this.state === 'closed',
        upsert: (ids, vectors) => this.upsert(ids, vectors),
        delete: (ids) => this.delete(ids),
      });
      this.config.log.info('refilled hot tier from source', { modelVersion: this.modelVersion, changes });
      this.refillFrom = null;
      return;
    }
    if (source && !this.main) await this.runRebuild();
    this.racingDeletes = null;
  }

  private snapshotExpectation() {
    return { modelVersion: this.modelVersion, dimension: this.dimension, partition: this.config.partition };
  }

  private onDisk(): boolean {
    const setting = this.config.tiers.vectorsOnDisk;
    // Flat and HNSW hold full vectors inside FAISS already, IVF-PQ must not hold them at all: the
    // row store's copy lives in the snapshot file, memory-mapped
    return this.config.dataDir !== undefined && setting !== false;
  }

  private searchParams(): MainTierSearchParams {
    const { nprobe, efSearch, rescoreFactor } = this.config.tiers;
    return { nprobe, efSearch, rescoreFactor };
  }

  // ---------------------------------------------------------------- search

  private assertReady(): void {
    if (this.state === 'ready') return;
    if (this.state === 'closed') throw new ClusterError('CLOSED', 'Shard is shutting down');
    throw new ClusterError(
      'SHARD_NOT_READY',
      `Model version ${this.modelVersion} is still loading${this.lastError ? ` (last error: ${this.lastError.message})` : ''}`,
    );
  }

  /** Best `k` hits for each of `nq` queries, over both tiers. Inputs are validated by the Shard. */
  async search(queries: Float32Array, nq: number, k: number, options: SearchOptions = {}): Promise<Hit[][]> {
    this.assertReady();
    this.searches++;
    try {
      return await this.searchTiers(queries, nq, k, options);
    } finally {
      if (--this.searches === 0 && this.searchesDone) this.searchesDone();
    }
  }

  private async searchTiers(
    queries: Float32Array,
    nq: number,
    k: number,
    options: SearchOptions,
  ): Promise<Hit[][]> {
    const main = this.main;
    main?.acquire();
    try {
      const allowed = options.allowedIds;
      if (allowed) {
        return await this.timed('exact', () =>
          filteredSearch(this.tiers, main, { queries, nq, k, allowed }, options),
        );
      }
      const [hotHits, mainHits] = await Promise.all([
        this.hot.index.count > 0
          ? this.timed('hot', () => this.hot.search(queries, nq, k, undefined))
          : EMPTY(nq),
        main && main.liveCount > 0
          ? this.timed('main', () => main.search(queries, nq, k, options))
          : EMPTY(nq),
      ]);
      const results: Hit[][] = [];
      for (let q = 0; q < nq; q++) {
        const fromHot = hotHits[q]!.filter((h) => this.isLive(h.id));
        const fromMain = main ? mainHits[q]!.filter((h) => !main.deleted.has(h.id) && this.isLive(h.id)) : [];
        results.push(mergeTopK([fromHot, fromMain], k));
      }
      return results;
    } finally {
      main?.release();
    }
  }

  /** Runs one tier's search and tells the observer how long it took. */
  private async timed<T>(tier: SearchTier, search: () => Promise<T>): Promise<T> {
    const observer = this.config.observer;
    if (!observer) return search();
    const started = performance.now();
    const result = await search();
    observer.searched(tier, (performance.now() - started) / 1000);
    return result;
  }

  // ---------------------------------------------------------------- writes

  /**
   * Inserts or replaces vectors by id. Idempotent: an id already holding exactly this vector is left
   * alone, and an id never holds two vectors (a replaced main-tier copy becomes a tombstone).
   */
  upsert(ids: BigInt64Array, vectors: Float32Array): Promise<{ upserted: number; unchanged: number }> {
    return this.writes.run(async () => {
      if (this.state === 'closed') throw new ClusterError('CLOSED', 'Shard is shutting down');
      const d = this.dimension;
      const last = new Map<bigint, number>();
      for (let i = 0; i < ids.length; i++) last.set(ids[i]!, i);
      const replaceInHot: bigint[] = [];
      const checkMain: { id: bigint; at: number; row: number }[] = [];
      const add: { id: bigint; at: number }[] = [];
      const main = this.main;
      for (const [id, at] of last) {
        if (this.hot.holds(id, vectors, at * d)) continue;
        if (this.hot.entries.has(id)) {
          replaceInHot.push(id);
          add.push({ id, at });
          continue;
        }
        const row = main ? main.liveRow(id) : -1;
        if (row >= 0) checkMain.push({ id, at, row });
        else add.push({ id, at });
      }
      if (main && checkMain.length > 0) {
        main.acquire();
        try {
          const stored = await main.store.read(checkMain.map((c) => c.row));
          checkMain.forEach((c, i) => {
            for (let j = 0; j < d; j++) {
              if (stored[i * d + j] !== vectors[c.at * d + j]) {
                add.push(c);
                return;
              }
            }
          });
        } finally {
          main.release();
        }
      }
      if (replaceInHot.length > 0) await this.hot.remove(replaceInHot);
      if (add.length > 0) {
        const addIds = new BigInt64Array(add.length);
        const addVectors = new Float32Array(add.length * d);
        add.forEach(({ id, at }, i) => {
          addIds[i] = id;
          addVectors.set(vectors.subarray(at * d, at * d + d), i * d);
        });
        await this.hot.add(addIds, addVectors);
        // only now that the hot tier serves the new vectors may the main tier's copies go
        const current = this.main;
        if (current && current.markDeleted(addIds) > 0) await current.removeGhosts();
      }
      this.maybeAutoRebuild();
      return { upserted: add.length, unchanged: last.size - add.length };
    });
  }

  /** Deletes ids from both tiers; returns how many were live. */
  delete(ids: BigInt64Array): Promise<{ deleted: number }> {
    return this.writes.run(async () => {
      if (this.state === 'closed') throw new ClusterError('CLOSED', 'Shard is shutting down');
      if (this.racingDeletes) for (const id of ids) this.racingDeletes.add(id);
      const main = this.main;
      const fromMain = main ? main.markDeleted(ids) : 0;
      const fromHot = await this.hot.remove(ids);
      if (main && fromMain > 0) await main.removeGhosts();
      this.maybeAutoRebuild();
      return { deleted: fromMain + fromHot };
    });
  }

  // ---------------------------------------------------------------- rebuild

  /**
   * Builds a new main tier from the source of record and swaps it in under live traffic. Concurrent
   * calls share one run. Throws ClusterError('NO_SOURCE') without a source, and for real faults
   * (source unreachable, FAISS failure); the serving tiers are untouched then.
   */
  rebuild(): Promise<RebuildOutcome> {
    if (!this.config.source) {
      return Promise.reject(
        new ClusterError('NO_SOURCE', `Shard has no source of record to rebuild ${this.modelVersion} from`),
      );
    }
    if (this.state === 'closed') return Promise.reject(new ClusterError('CLOSED', 'Shard is shutting down'));
    // while loading, the load itself rebuilds when it has to
    if (this.state === 'loading')
      return Promise.reject(
        new ClusterError('SHARD_NOT_READY', `Model version ${this.modelVersion} is still loading`),
      );
    return this.runRebuild();
  }

  private runRebuild(): Promise<RebuildOutcome> {
    if (!this.rebuildRun) {
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      this.rebuildRun = this.doRebuild()
        .then(
          (outcome) => {
            this.config.observer?.rebuilt('rebuilt', seconds());
            return outcome;
          },
          (error: unknown) => {
            // a rebuild cut short by shutdown is not a failure of the index
            if (!(error instanceof ClusterError && error.code === 'CLOSED'))
              this.config.observer?.rebuilt('failed', seconds());
            throw error;
          },
        )
        .finally(() => {
          this.rebuildRun = null;
        });
    }
    return this.rebuildRun;
  }

  private maybeAutoRebuild(): void {
    const { autoRebuildHotVectors, autoRebuildTombstoneRatio } = this.config.tiers;
    if (!this.config.source || this.rebuildRun || this.state !== 'ready') return;
    const main = this.main;
    const due = rebuildReason(
      { hotVectors: this.hot.size, mainVectors: main?.size ?? 0, tombstones: main?.tombstones ?? 0 },
      { hotVectors: autoRebuildHotVectors, tombstoneRatio: autoRebuildTombstoneRatio },
    );
    if (!due) return;
    this.runRebuild().catch((error) => {
      this.recordError(error);
      this.config.log.error('automatic rebuild failed', {
        modelVersion: this.modelVersion,
        error: (error as Error).message,
      });
    });
  }

  private async doRebuild(): Promise<RebuildOutcome> {
    const started = performance.now();
    const signal = this.closing.signal;
    // Writers commit to the source before they call the shard, so every hot entry older than
    // this seq is in the snapshot read below; newer ones may not be and must stay hot.
    const startSeq = this.hot.seq;
    this.racingDeletes = new Set();
    try {
      const built = await buildFromSource({
        source: this.config.source!,
        modelVersion: this.modelVersion,
        dimension: this.dimension,
        partition: this.config.partition,
        placement: this.config.placement,
        factory: this.config.factory,
        tiers: this.config.tiers,
        params: this.searchParams(),
        onDisk: this.onDisk(),
        dataDir: this.config.dataDir,
        signal,
        log: this.config.log,
        onError: (error) => this.recordError(error),
      });
      const next = built.tier;
      signal.throwIfAborted();
      const movedFromHot = await this.writes.run(() => this.swap(next, startSeq));
      const outcome: RebuildOutcome = {
        outcome: 'rebuilt',
        modelVersion: this.modelVersion,
        watermark: built.watermark.toString(),
        kind: next?.kind ?? 'empty',
        vectors: built.vectors,
        skipped: built.skipped,
        movedFromHot,
        snapshot: built.snapshotDir,
        durationMs: Math.round(performance.now() - started),
      };
      this.lastRebuild = outcome;
      this.config.log.info('rebuilt main tier', { ...outcome });
      return outcome;
    } catch (error) {
      if (signal.aborted)
        throw new ClusterError('CLOSED', `Shard closed while rebuilding ${this.modelVersion}`, {
          cause: error,
        });
      throw error;
    } finally {
      this.racingDeletes = null;
    }
  }

  /** Runs inside the write queue: install `next`, then hand the hot entries it covers over to it. */
  private async swap(next: MainTier | null, startSeq: number): Promise<number> {
    if (this.state === 'closed') {
      await next?.close();
      throw new ClusterError('CLOSED', 'Shard is shutting down');
    }
    const covered: bigint[] = [];
    if (next) {
      // deleted while the source was being read: the snapshot may predate the delete
      next.markDeleted(this.racingDeletes ?? []);
      const newer: bigint[] = [];
      for (const [id, entry] of this.hot.entries) {
        if (next.table.rowOf(id) < 0) continue;
        if (entry.seq >= startSeq) newer.push(id);
        else covered.push(id);
      }
      // hot entries written after the rebuild started hold newer vectors than the snapshot
      next.markDeleted(newer);
    }
    const previous = this.main;
    this.main = next;
    // ahead of filtered traffic; a failure here is retried by the first search that needs it
    next
      ?.filterCells(this.config.factory, this.closing.signal)
      .then((cells) => warnCodesInMemory(cells, this.config.log, { modelVersion: this.modelVersion }))
      .catch((error: unknown) => {
        if (this.state !== 'closed')
          this.config.log.warn('filter cells build failed', {
            modelVersion: this.modelVersion,
            error: (error as Error).message,
          });
      });
    this.racingDeletes = null;
    previous?.retire();
    await this.hot.remove(covered);
    await next?.removeGhosts();
    return covered.length;
  }

  // ---------------------------------------------------------------- housekeeping

  private recordError(error: unknown): void {
    const code = error instanceof ClusterError ? error.code : 'INTERNAL';
    this.lastError = {
      code,
      message: (error as Error).message ?? String(error),
      at: new Date().toISOString(),
    };
  }

  stats(): ModelIndexStats {
    const main = this.main;
    return {
      modelVersion: this.modelVersion,
      dimension: this.dimension,
      state: this.state,
      hot: { vectors: this.hot.size, memoryBytes: this.hot.memoryBytes },
      main: main
        ? {
            kind: main.kind,
            factory: main.factory,
            vectors: main.size,
            live: main.liveCount,
            tombstones: main.tombstones,
            memoryBytes: main.memoryBytes,
            nprobe: main.kind === 'ivfpq' ? main.params.nprobe : null,
            nprobeCalibration: main.calibration,
            watermark: main.watermark.toString(),
          }
        : null,
      rebuilding: this.rebuildRun !== null,
      pendingWrites: this.writes.depth,
      lastRebuild: this.lastRebuild,
      lastError: this.lastError,
    };
  }

  /** Stops taking work, lets queued writes finish, then frees the native indexes. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.closing.abort();
    await this.rebuildRun?.catch(() => undefined);
    await this.writes.drain();
    if (this.searches > 0) {
      await new Promise<void>((resolve) => {
        this.searchesDone = resolve;
      });
    }
    const main = this.main;
    this.main = null;
    main?.retire();
    // the background cells build writes beside the snapshot: nothing may write there after close
    await main?.cellsSettled();
    this.hot.index.close();
  }
}
