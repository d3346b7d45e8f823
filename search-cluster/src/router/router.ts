import { badRequest, ClusterError, isClusterError } from '../errors.ts';
import { DEFAULT_SHARD_DEADLINE_MS } from '../runtime/common-env.ts';
import { partitionIds } from '../shard/partition.ts';
import { MAX_EF_SEARCH, MAX_NPROBE, type ShardSearchRequest } from '../shard/shard.ts';
import { checkK, checkModelVersion, checkOptionalPositiveInt, toIdArray } from '../shard/validate.ts';
import type { ClusterPlacement } from './cluster-placement.ts';
import { clusterSearch } from './cluster-search.ts';
import { clusterHealth, clusterStats } from './cluster-status.ts';
import { fullSearch } from './full-search.ts';
import { CLIENT_ERRORS, openFanOut } from './hedged-search.ts';
import { type ProbeAuditStats, ProbeAudits } from './probe-audit.ts';
import type { ShardReplica } from './replica.ts';
import { ReplicaSet, type ReplicaState } from './replica-choice.ts';
import type {
  RebuildOptions,
  RebuildReport,
  RouterBatchSearchResult,
  RouterHealth,
  RouterOptions,
  RouterSearchOptions,
  RouterSearchResult,
  RouterStats,
  ShardRouter,
  UpsertItems,
} from './router.types.ts';
import { describeError } from './shard-answers.ts';
import { DEFAULT_WHOLE_EF_SEARCH, shardEfSearch } from './shard-params.ts';
import { packItems, rowsByShard, rowsByVector } from './upsert-items.ts';

export type { Hit } from '../shard/topk.ts';
export type * from './router.types.ts';

/**
 * Routes writes to the owning shard (`shardOf(id, shardCount)`, see ../shard/partition.ts) and fans
 * searches out to every shard, one replica each, merging the answers.
 *
 * Per shard, a search goes to the replica that has failed least recently (round-robin among
 * healthy ones). If it fails, or gives no answer within `hedgeAfterMs`, one hedged request goes to
 * another replica; the first answer wins and the other is aborted. A shard with no answer by
 * `deadlineMs` is left out and the result is `partial`. Writes go to every replica of the owning
 * shard and fail unless all acknowledge; they are idempotent, so the caller (the indexing job)
 * retries.
 *
 * With more than one shard, an unfiltered search sends each shard an efSearch scaled to its share
 * of the collection (shard-params.ts; `scaleSearchParams: false` turns this off): the efSearch a
 * caller names, or the shard default, describes the search of the whole collection.
 *
 * With a `placement` (cluster partitioning, cluster-placement.ts) a vector's shard is the owner of
 * its nearest k-means centroid: an upsert goes to that shard and is a delete on every other (the
 * id may have lived elsewhere under its previous vector), a delete goes to every shard, and an
 * unfiltered search probes the nearest shards only (cluster-search.ts), each with parameters
 * scaled to what it holds of the query's neighbours (shard-params.ts). A filtered search asks
 * every shard with every allowed id.
 */
export class ClusterRouter implements ShardRouter {
  readonly shardCount: number;
  private readonly replicas: ReplicaSet[];
  private readonly shards: ReplicaState[][];
  private readonly deadlineMs: number;
  private readonly hedgeAfterMs: number | undefined;
  private readonly writeTimeoutMs: number;
  private readonly rebuildTimeoutMs: number;
  private readonly probeTimeoutMs: number;
  private readonly scaleSearchParams: boolean;
  private readonly wholeEfSearch: number;

  private readonly placement: ClusterPlacement | undefined;
  /** Per model version under cluster partitioning: the probe rule's check on served queries. */
  private readonly audits: ProbeAudits;

  constructor(shards: ShardReplica[][], options: RouterOptions & { placement?: ClusterPlacement } = {}) {
    if (shards.length === 0 || shards.some((replicas) => replicas.length === 0)) {
      throw new Error('A router needs at least one shard, each with at least one replica');
    }
    this.shardCount = shards.length;
    this.deadlineMs = options.deadlineMs ?? DEFAULT_SHARD_DEADLINE_MS;
    this.hedgeAfterMs = options.hedgeAfterMs;
    this.writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
    this.rebuildTimeoutMs = options.rebuildTimeoutMs ?? 3_600_000;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 2_000;
    this.scaleSearchParams = options.scaleSearchParams ?? true;
    this.wholeEfSearch = options.wholeEfSearch ?? DEFAULT_WHOLE_EF_SEARCH;
    this.placement = options.placement;
    this.audits = new ProbeAudits(options.probeAudit);
    if (this.placement && this.shardCount < 2)
      throw new Error('Cluster partitioning needs at least two shards');
    this.replicas = shards.map((replicas) => new ReplicaSet(replicas, options.backoffMs ?? 1_000));
    this.shards = this.replicas.map((set) => set.states);
  }

  // ---------------------------------------------------------------- search

  async search(
    modelVersion: string,
    query: Float32Array,
    k: number,
    options: RouterSearchOptions = {},
  ): Promise<RouterSearchResult> {
    const { results, ...rest } = await this.searchBatch(modelVersion, [query], k, options);
    return { hits: results[0]!, ...rest };
  }

  async searchBatch(
    modelVersion: string,
    queries: readonly Float32Array[],
    k: number,
    options: RouterSearchOptions = {},
  ): Promise<RouterBatchSearchResult> {
    checkModelVersion(modelVersion);
    checkK(k);
    const deadlineMs = checkOptionalPositiveInt('deadlineMs', options.deadlineMs, 600_000) ?? this.deadlineMs;
    if (!Array.isArray(queries) || queries.length === 0)
      throw badRequest('Expected at least one query vector');
    const dimension = queries[0]!.length;
    queries.forEach((q, i) => {
      if (!(q instanceof Float32Array)) throw badRequest(`Expected Float32Array for query ${i}`);
      if (q.length !== dimension || dimension === 0) {
        throw badRequest(
          `Expected every query to have dimension ${dimension} but query ${i} has ${q.length}`,
        );
      }
    });
    // a single query goes out as it is; a batch is packed into one array
    let packed = queries[0]!;
    if (queries.length > 1) {
      packed = new Float32Array(queries.length * dimension);
      for (const [i, q] of queries.entries()) packed.set(q, i * dimension);
    }
    const allowed =
      options.allowedIds === undefined ? undefined : toIdArray('allowedIds', options.allowedIds);
    const placed = this.placement?.has(modelVersion) ? this.placement.map(modelVersion) : undefined;
    // placed by vector, any shard may hold an allowed id
    const allowedPerShard = !allowed
      ? undefined
      : placed
        ? this.shards.map(() => allowed)
        : partitionIds(allowed, this.shardCount);

    const base: ShardSearchRequest = { modelVersion, queries: packed, dimension, k };
    const nprobe = checkOptionalPositiveInt('nprobe', options.nprobe, MAX_NPROBE);
    const efSearch = checkOptionalPositiveInt('efSearch', options.efSearch, MAX_EF_SEARCH);
    if (nprobe !== undefined) base.nprobe = nprobe;
    // one deadline for the whole search, every probe round of a cluster search included
    const fanOut = openFanOut(this.replicas, deadlineMs, options.signal, this.hedgeAfterMs);
    try {
      if (placed && !allowed) {
        return await clusterSearch({
          map: placed,
          request: { modelVersion, dimension, k },
          named: {
            ...(nprobe === undefined ? {} : { nprobe }),
            ...(efSearch === undefined ? {} : { efSearch }),
          },
          defaults: { efSearch: this.wholeEfSearch },
          scale: this.scaleSearchParams,
          queries,
          k,
          fanOut: fanOut.run,
          deadlineMs,
          signal: options.signal,
          audit: this.audits.of(modelVersion, placed),
        });
      }
      if (this.scaleSearchParams && this.shardCount > 1 && !allowed) {
        // each shard searches its share (shard-params.ts); a filtered search keeps the whole
        // parameters, its id selector already thins every shard's candidates
        base.efSearch = shardEfSearch(efSearch ?? this.wholeEfSearch, this.shardCount, k);
      } else if (efSearch !== undefined) {
        base.efSearch = efSearch;
      }
      const requests = this.shards.map((_, s): ShardSearchRequest | null => {
        const shardAllowed = allowedPerShard?.[s];
        // a filter that leaves this shard no ids: nothing to ask
        if (shardAllowed && shardAllowed.length === 0) return null;
        return shardAllowed ? { ...base, allowedIds: shardAllowed } : base;
      });
      return await fullSearch({
        requests,
        queries,
        k,
        fanOut: fanOut.run,
        deadlineMs,
        signal: options.signal,
      });
    } finally {
      fanOut.close();
    }
  }

  /** What the probe audit of a cluster-partitioned model version saw; null for other versions. */
  probeAudit(modelVersion: string): ProbeAuditStats | null {
    return this.audits.stats(modelVersion);
  }

  // ---------------------------------------------------------------- writes

  async upsert(modelVersion: string, items: UpsertItems): Promise<{ upserted: number; unchanged: number }> {
    checkModelVersion(modelVersion);
    const { ids, vectors } = packItems(items);
    if (ids.length === 0) return { upserted: 0, unchanged: 0 };
    const d = vectors.length / ids.length;
    const placed = this.placement?.has(modelVersion) ? this.placement : undefined;
    const rows = placed
      ? rowsByVector(placed, modelVersion, vectors, d, this.shardCount)
      : rowsByShard(ids, this.shardCount);
    const owner = new Int32Array(ids.length);
    rows.forEach((shardRows, s) => {
      for (const row of shardRows) owner[row] = s;
    });
    let upserted = 0;
    let unchanged = 0;
    await Promise.all(
      rows.map(async (shardRows, s) => {
        if (placed) {
          // a re-upload may move an id: it must leave every shard but its new one
          const elsewhere = ids.filter((_, i) => owner[i] !== s);
          if (elsewhere.length > 0) {
            await this.writeAll(s, 'delete', (r, signal) => r.delete(modelVersion, elsewhere, signal));
          }
        }
        if (shardRows.length === 0) return;
        const shardIds = new BigInt64Array(shardRows.length);
        const shardVectors = new Float32Array(shardRows.length * d);
        shardRows.forEach((row, i) => {
          shardIds[i] = ids[row]!;
          shardVectors.set(vectors.subarray(row * d, row * d + d), i * d);
        });
        const acks = await this.writeAll(s, 'upsert', (r, signal) =>
          r.upsert(modelVersion, shardIds, shardVectors, signal),
        );
        upserted += acks[0]!.upserted;
        unchanged += acks[0]!.unchanged;
      }),
    );
    return { upserted, unchanged };
  }

  async delete(modelVersion: string, ids: readonly bigint[] | BigInt64Array): Promise<{ deleted: number }> {
    checkModelVersion(modelVersion);
    const all = toIdArray('ids', ids);
    let deleted = 0;
    // placed by vector, an id's shard is not known from the id: every shard is asked
    const perShard = this.placement?.has(modelVersion)
      ? this.shards.map(() => all)
      : partitionIds(all, this.shardCount);
    await Promise.all(
      perShard.map(async (shardIds, s) => {
        if (shardIds.length === 0) return;
        const acks = await this.writeAll(s, 'delete', (r, signal) =>
          r.delete(modelVersion, shardIds, signal),
        );
        deleted += Math.max(...acks.map((a) => a.deleted));
      }),
    );
    return { deleted };
  }

  /** Runs a write on every replica of shard `s`; all must succeed. */
  private async writeAll<T>(
    s: number,
    what: string,
    call: (replica: ShardReplica, signal: AbortSignal) => Promise<T>,
  ): Promise<T[]> {
    const states = this.shards[s]!;
    const settled = await Promise.allSettled(
      states.map((state) => call(state.replica, AbortSignal.timeout(this.writeTimeoutMs))),
    );
    const results: T[] = [];
    const errors: string[] = [];
    const reasons: unknown[] = [];
    settled.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        results.push(r.value);
        return;
      }
      reasons.push(r.reason);
      if (!isClusterError(r.reason) || !CLIENT_ERRORS.has(r.reason.code))
        this.replicas[s]!.markFailed(states[i]!);
      errors.push(`${states[i]!.replica.name}: ${describeError(r.reason)}`);
    });
    // the caller's mistake, or a model version no replica serves: retrying will not help
    const clientError = reasons.find((e) => isClusterError(e) && CLIENT_ERRORS.has(e.code));
    if (clientError) throw clientError;
    if (
      results.length === 0 &&
      reasons.every((e) => isClusterError(e) && e.code === 'UNKNOWN_MODEL_VERSION')
    ) {
      throw reasons[0];
    }
    // anything else (a replica down, loading, or not yet serving a new model version) is retryable
    if (errors.length > 0) {
      throw new ClusterError(
        'SHARD_UNAVAILABLE',
        `${what} reached ${results.length} of ${states.length} replicas of shard ${s} (${errors.join('; ')}); retry, writes are idempotent`,
      );
    }
    return results;
  }

  // ---------------------------------------------------------------- control

  async rebuild(modelVersion: string, options: RebuildOptions = {}): Promise<RebuildReport[]> {
    checkModelVersion(modelVersion);
    const reports: RebuildReport[] = [];
    const report = (r: RebuildReport) => {
      reports.push(r);
      options.onReport?.(r);
    };
    // one replica at a time across the whole cluster: a rebuild is CPU-heavy and in-process
    // shards share the machine, and a shard with several replicas always keeps the others free
    for (const [s, states] of this.shards.entries()) {
      for (const { replica } of states) {
        if (options.only && !options.only(s, replica.name)) continue;
        if (states.length > 1 && !(await this.anotherServes(s, replica))) {
          // the replica being rebuilt is the only one serving: wait for the next run
          report({
            shard: s,
            replica: replica.name,
            skipped:
              'no other replica of this shard is serving; rebuilding it would leave the shard on one busy replica',
          });
          continue;
        }
        try {
          const outcome = await replica.rebuild(modelVersion, AbortSignal.timeout(this.rebuildTimeoutMs));
          report({ shard: s, replica: replica.name, outcome });
        } catch (error) {
          if (isClusterError(error) && CLIENT_ERRORS.has(error.code)) throw error;
          report({ shard: s, replica: replica.name, error: describeError(error) });
        }
      }
    }
    return reports;
  }

  /** Whether a replica of shard `s` other than `self` answers its health probe as serving. */
  private async anotherServes(s: number, self: ShardReplica): Promise<boolean> {
    const others = this.shards[s]!.filter((state) => state.replica !== self);
    const probes = await Promise.all(
      others.map((state) =>
        state.replica.health(AbortSignal.timeout(this.probeTimeoutMs)).then(
          (health) => health.status === 'ok',
          () => false,
        ),
      ),
    );
    return probes.some(Boolean);
  }

  async addModelVersion(name: string, dimension: number): Promise<void> {
    if (this.placement && !this.placement.has(name)) {
      throw new ClusterError(
        'UNSUPPORTED',
        `Cluster partitioning cannot add model version "${name}" at run time: its partition map is built from its vectors of record when the router starts; configure it in modelVersions and restart`,
      );
    }
    await Promise.all(
      this.shards.map((_, s) =>
        this.writeAll(s, 'addModelVersion', (r) =>
          r.addModelVersion(name, dimension, AbortSignal.timeout(this.rebuildTimeoutMs)),
        ),
      ),
    );
  }

  async dropModelVersion(name: string): Promise<void> {
    await Promise.all(
      this.shards.map((_, s) =>
        this.writeAll(s, 'dropModelVersion', (r) =>
          r.dropModelVersion(name, AbortSignal.timeout(this.rebuildTimeoutMs)),
        ),
      ),
    );
  }

  /** Every replica's health probe (cluster-status.ts). */
  health(): Promise<RouterHealth> {
    return clusterHealth(this.shards, this.probeTimeoutMs);
  }

  /** Every replica's stats (cluster-status.ts). */
  stats(): Promise<RouterStats> {
    return clusterStats(this.shards, this.probeTimeoutMs);
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.flat().map((s) => s.replica.close()));
  }
}
