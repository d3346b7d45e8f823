import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { badRequest, ClusterError, unknownModelVersion } from '../errors.ts';
import { modelDir } from '../rebuild/snapshot.ts';
import type { VectorSource } from '../rebuild/vector-source.ts';
import { writeFileAtomic } from '../runtime/atomic-write.ts';
import { ModelIndex, type ModelIndexStats, type RebuildOutcome } from './model-index.ts';
import { DEFAULT_TIER_OPTIONS, type Logger, silentLogger, type TierOptions } from './options.ts';
import { ownsRecord, type Partition, shardOf, type VectorPlacement } from './partition.ts';
import type { ShardObserver } from './shard-metrics.ts';
import type { Hit } from './topk.ts';
import { checkIds, checkK, checkModelVersion, checkOptionalPositiveInt, checkVectors } from './validate.ts';
import type { VectorIndexFactory } from './vector-index.ts';

export interface ModelVersionSpec {
  name: string;
  dimension: number;
}

export interface ShardOptions {
  /** Which slice of the id space this shard holds. Default { index: 0, count: 1 }. */
  partition?: Partition;
  /**
   * Place vectors by value (cluster partitioning, router/cluster-placement.ts) instead of ids by
   * hash: writes, rebuilds and refills keep what it places on this shard. Default none.
   */
  placement?: VectorPlacement;
  /** Model versions served from the start (more can be added with addModelVersion). */
  modelVersions?: ModelVersionSpec[];
  factory: VectorIndexFactory;
  /** Vectors of record for rebuilds and restarts. Default none (nothing survives a restart without a snapshot). */
  source?: VectorSource;
  /** Snapshot directory. Default none (no snapshots). */
  dataDir?: string;
  tiers?: Partial<TierOptions>;
  log?: Logger;
  /** Told each tier search's and rebuild's duration (shard-metrics.ts). Default none. */
  observer?: ShardObserver;
}

export interface ShardSearchRequest {
  modelVersion: string;
  /** nq query vectors, concatenated. */
  queries: Float32Array;
  /** Length of one query; when given it must be the model version's dimension. Default: taken from the model version. */
  dimension?: number;
  k: number;
  nprobe?: number;
  efSearch?: number;
  /** Restrict results to these ids (a label filter); the router sends each shard only its own. */
  allowedIds?: BigInt64Array;
}

export interface ShardHealth {
  /** ok: every model version serves; loading: some are still loading. */
  status: 'ok' | 'loading' | 'closed';
  partition: Partition;
  modelVersions: { name: string; dimension: number; state: string; vectors: number }[];
}

export interface ShardStats {
  partition: Partition;
  modelVersions: ModelIndexStats[];
  uptimeSeconds: number;
}

/** Largest efSearch and nprobe a query may ask for. */
export const MAX_EF_SEARCH = 32_768;
export const MAX_NPROBE = 65_536;

/**
 * A shard: one ModelIndex per model version, input validation, and ownership of ids. Used
 * in-process (single-node mode) and behind the shard server.
 */
export class Shard {
  readonly partition: Partition;
  private readonly indexes = new Map<string, ModelIndex>();
  private readonly options: ShardOptions;
  private readonly tiers: TierOptions;
  private readonly log: Logger;
  private readonly started = Date.now();
  private closed = false;

  constructor(options: ShardOptions) {
    this.options = options;
    this.partition = options.partition ?? { index: 0, count: 1 };
    const { index, count } = this.partition;
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count) {
      throw new Error(`Invalid shard partition ${index}/${count}: expected 0 <= index < count`);
    }
    this.tiers = { ...DEFAULT_TIER_OPTIONS, ...options.tiers };
    this.log = options.log ?? silentLogger;
    // registered now, loading until start(): a request that arrives first is told SHARD_NOT_READY,
    // not UNKNOWN_MODEL_VERSION (which callers do not retry)
    const specs = new Map<string, number>();
    for (const spec of this.recordedModelVersions()) specs.set(spec.name, spec.dimension);
    for (const spec of options.modelVersions ?? []) specs.set(spec.name, spec.dimension);
    for (const [name, dimension] of specs) this.register(name, dimension);
  }

  /**
   * Opens every configured model version (and those recorded in the data dir): snapshot load and
   * refill, or rebuild. Resolves when each is ready or has failed (then retrying in background).
   */
  async start(): Promise<void> {
    await Promise.all([...this.indexes.values()].map((index) => index.open()));
  }

  /** Serves a new model version (blue-green: the green index set), recorded in the data dir. */
  async addModelVersion(name: string, dimension: number): Promise<void> {
    checkModelVersion(name);
    if (!Number.isInteger(dimension) || dimension < 1 || dimension > 65_536) {
      throw badRequest(`Expected integer between 1 and 65536 for dimension but received ${dimension}`);
    }
    const existing = this.indexes.get(name);
    if (existing) {
      if (existing.dimension !== dimension) {
        throw badRequest(`Model version ${name} already exists with dimension ${existing.dimension}`);
      }
      return;
    }
    await this.open(name, dimension);
    await this.recordModelVersions();
  }

  /**
   * Stops serving a model version (a retired blue-green index set): waits for its searches in
   * flight, frees its native memory and removes its snapshots. Unknown versions are a no-op.
   */
  async dropModelVersion(name: string): Promise<void> {
    checkModelVersion(name);
    const index = this.indexes.get(name);
    if (!index) return;
    this.indexes.delete(name);
    await this.recordModelVersions();
    await index.close();
    if (this.options.dataDir) {
      await rm(modelDir(this.options.dataDir, name), { recursive: true, force: true });
    }
  }

  get modelVersions(): ModelVersionSpec[] {
    return [...this.indexes.values()].map((m) => ({ name: m.modelVersion, dimension: m.dimension }));
  }

  private async open(name: string, dimension: number): Promise<void> {
    if (this.closed) throw new ClusterError('CLOSED', 'Shard is shutting down');
    if (this.indexes.has(name)) return;
    await this.register(name, dimension).open();
  }

  private register(name: string, dimension: number): ModelIndex {
    const placement = this.options.placement;
    const index = new ModelIndex({
      modelVersion: name,
      dimension,
      partition: this.partitionOf(name),
      ...(placement ? { placement } : {}),
      factory: this.options.factory,
      tiers: this.tiers,
      log: this.log,
      ...(this.options.source ? { source: this.options.source } : {}),
      ...(this.options.dataDir ? { dataDir: this.options.dataDir } : {}),
      ...(this.options.observer ? { observer: this.options.observer.forModel(name) } : {}),
    });
    this.indexes.set(name, index);
    return index;
  }

  private model(modelVersion: string): ModelIndex {
    checkModelVersion(modelVersion);
    if (this.closed) throw new ClusterError('CLOSED', 'Shard is shutting down');
    const index = this.indexes.get(modelVersion);
    if (!index) throw unknownModelVersion(modelVersion);
    return index;
  }

  /**
   * The partition of one model version: with a placement, named by it (snapshots record the name,
   * so one placed by another map is rebuilt, not loaded; a source reads every shard's rows).
   */
  partitionOf(modelVersion: string): Partition {
    const placement = this.options.placement;
    return placement ? { ...this.partition, placement: placement.label(modelVersion) } : this.partition;
  }

  /** Whether vectors are placed by value (cluster partitioning) rather than ids by hash. */
  get placed(): boolean {
    return this.options.placement !== undefined;
  }

  /** Whether a change of record (a deletion when `vector` is null) is this shard's to apply. */
  concerns(modelVersion: string, id: bigint, vector: Float32Array | null): boolean {
    return ownsRecord(this.partition, this.options.placement, modelVersion, id, vector);
  }

  /** Is `id` searchable under `modelVersion` right now? (catch-up skips what it already has) */
  isLive(modelVersion: string, id: bigint): boolean {
    return this.model(modelVersion).isLive(id);
  }

  /** Best k hits per query; an empty model version answers with empty lists, not an error. */
  async search(request: ShardSearchRequest): Promise<Hit[][]> {
    const index = this.model(request.modelVersion);
    if (request.dimension !== undefined && request.dimension !== index.dimension) {
      throw badRequest(
        `Expected query vectors of dimension ${index.dimension} for model version ${request.modelVersion} but received ${request.dimension}`,
      );
    }
    const nq = checkVectors('queries', request.queries, index.dimension);
    const k = checkK(request.k);
    const nprobe = checkOptionalPositiveInt('nprobe', request.nprobe, MAX_NPROBE);
    const efSearch = checkOptionalPositiveInt('efSearch', request.efSearch, MAX_EF_SEARCH);
    const allowedIds =
      request.allowedIds === undefined ? undefined : checkIds('allowedIds', request.allowedIds);
    if (allowedIds?.length === 0) return Array.from({ length: nq }, () => []);
    return index.search(request.queries, nq, k, {
      ...(nprobe ? { nprobe } : {}),
      ...(efSearch ? { efSearch } : {}),
      ...(allowedIds ? { allowedIds } : {}),
    });
  }

  /** Inserts or replaces vectors; every id must belong to this shard. */
  async upsert(
    modelVersion: string,
    ids: BigInt64Array,
    vectors: Float32Array,
  ): Promise<{ upserted: number; unchanged: number }> {
    const index = this.model(modelVersion);
    checkIds('ids', ids);
    if (ids.length === 0) return { upserted: 0, unchanged: 0 };
    if (vectors.length !== ids.length * index.dimension) {
      throw badRequest(
        `Expected ${ids.length} vectors of dimension ${index.dimension} for model version ${modelVersion} but received ${vectors.length} values`,
      );
    }
    const n = checkVectors('vectors', vectors, index.dimension);
    if (n !== ids.length)
      throw badRequest(`Expected one vector per id but received ${n} vectors for ${ids.length} ids`);
    this.checkOwnership(modelVersion, ids, vectors);
    return index.upsert(ids, vectors);
  }

  async delete(modelVersion: string, ids: BigInt64Array): Promise<{ deleted: number }> {
    const index = this.model(modelVersion);
    checkIds('ids', ids);
    if (ids.length === 0) return { deleted: 0 };
    return index.delete(ids);
  }

  async rebuild(modelVersion: string): Promise<RebuildOutcome> {
    return this.model(modelVersion).rebuild();
  }

  /** A misrouted write means router and shard disagree on the partitioning; refuse it loudly. */
  private checkOwnership(modelVersion: string, ids: BigInt64Array, vectors: Float32Array): void {
    const { index, count } = this.partition;
    if (count === 1) return;
    const placement = this.options.placement;
    if (placement) {
      const d = vectors.length / ids.length;
      for (let i = 0; i < ids.length; i++) {
        const owner = placement.shardOf(modelVersion, vectors, i * d);
        if (owner !== index) {
          throw badRequest(
            `The vector of id ${ids[i]} belongs to shard ${owner} of ${count} (${placement.label(modelVersion)}), not to this shard (${index})`,
          );
        }
      }
      return;
    }
    for (let i = 0; i < ids.length; i++) {
      const owner = shardOf(ids[i]!, count);
      if (owner !== index) {
        throw badRequest(`Id ${ids[i]} belongs to shard ${owner} of ${count}, not to this shard (${index})`);
      }
    }
  }

  health(): ShardHealth {
    const modelVersions = [...this.indexes.values()].map((m) => ({
      name: m.modelVersion,
      dimension: m.dimension,
      state: m.state,
      vectors: m.vectorCount,
    }));
    const status = this.closed
      ? 'closed'
      : modelVersions.every((m) => m.state === 'ready')
        ? 'ok'
        : 'loading';
    return { status, partition: this.partition, modelVersions };
  }

  /** When each model version's serving main tier was built (ms since the epoch); none without one. */
  mainTierAges(): { modelVersion: string; builtAt: number }[] {
    return [...this.indexes.values()].flatMap((m) =>
      m.mainBuiltAt === null ? [] : [{ modelVersion: m.modelVersion, builtAt: m.mainBuiltAt }],
    );
  }

  stats(): ShardStats {
    return {
      partition: this.partition,
      modelVersions: [...this.indexes.values()].map((m) => m.stats()),
      uptimeSeconds: Math.round((Date.now() - this.started) / 1000),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.indexes.values()].map((m) => m.close()));
  }

  private recordedModelVersions(): ModelVersionSpec[] {
    if (!this.options.dataDir) return [];
    try {
      const parsed = JSON.parse(
        readFileSync(join(this.options.dataDir, 'model-versions.json'), 'utf8'),
      ) as unknown;
      if (!Array.isArray(parsed)) return [];
      return parsed.filter(
        (s): s is ModelVersionSpec =>
          typeof s?.name === 'string' && Number.isInteger(s?.dimension) && s.dimension > 0,
      );
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.log.warn('ignoring unreadable model-versions.json', { error: (error as Error).message });
      }
      return [];
    }
  }

  private async recordModelVersions(): Promise<void> {
    const dir = this.options.dataDir;
    if (!dir) return;
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(join(dir, 'model-versions.json'), JSON.stringify(this.modelVersions, null, 2));
  }
}
