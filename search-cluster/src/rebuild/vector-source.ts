import type { Partition } from '../shard/partition.ts';

/** One vector of record: the embedding of image `id` under one model version. */
export interface VectorRecord {
  id: bigint;
  vector: Float32Array;
}

/** A change after some watermark: a new or replaced vector, or `vector: null` for a deletion. */
export interface VectorChange {
  id: bigint;
  vector: Float32Array | null;
  /** The change's position in the source's commit order (strictly increasing along `since`). */
  watermark: bigint;
}

export interface VectorSourceSnapshot {
  /** Every change at or below this watermark is in `records`, none above it is. */
  watermark: bigint;
  /** Each live id once, in any order. May be iterated once. */
  records: AsyncIterable<VectorRecord>;
}

/**
 * The vectors of record a shard is derived from (Postgres' `embeddings` table in production).
 *
 * Contract:
 * - `snapshot` reads one consistent point in time and says which (`watermark`): a rebuild builds
 *   the main tier from it and stores the watermark in the snapshot on disk.
 * - `since(w)` yields every change committed after `w`, in commit order, deletions included as
 *   `vector: null`, until it reaches the present. A restarted shard replays it over its last
 *   snapshot. A Postgres adapter needs a monotonically increasing change number per row and must
 *   keep deleted rows (soft delete) or a deletion log at least as long as the oldest snapshot.
 * - `partition` is a hint: a source may return ids of other shards, the shard discards them
 *   (`shardOf(id, count) !== index`); filtering early only saves transfer.
 * - Watermarks are opaque, comparable bigints (a sequence value, not a clock).
 */
export interface VectorSource {
  snapshot(modelVersion: string, partition: Partition): Promise<VectorSourceSnapshot>;
  since(modelVersion: string, watermark: bigint, partition: Partition): AsyncIterable<VectorChange>;
}

/**
 * The source of record kept in memory, for tests and for single-node runs without Postgres.
 * Writes are applied in call order and numbered from 1.
 */
export class MemoryVectorSource implements VectorSource {
  private seq = 0n;
  private readonly live = new Map<string, Map<bigint, Float32Array>>();
  private readonly log = new Map<string, VectorChange[]>();
  /** Calls to `snapshot` and `since`, for tests that check what a shard read. */
  readonly reads = { snapshots: 0, since: 0 };

  get watermark(): bigint {
    return this.seq;
  }

  put(modelVersion: string, id: bigint, vector: Float32Array): bigint {
    const copy = vector.slice();
    this.table(modelVersion).set(id, copy);
    return this.append(modelVersion, { id, vector: copy, watermark: ++this.seq });
  }

  putMany(modelVersion: string, ids: BigInt64Array, vectors: Float32Array): bigint {
    const d = vectors.length / ids.length;
    for (let i = 0; i < ids.length; i++) this.put(modelVersion, ids[i]!, vectors.subarray(i * d, i * d + d));
    return this.seq;
  }

  delete(modelVersion: string, id: bigint): bigint {
    this.table(modelVersion).delete(id);
    return this.append(modelVersion, { id, vector: null, watermark: ++this.seq });
  }

  get(modelVersion: string, id: bigint): Float32Array | undefined {
    return this.live.get(modelVersion)?.get(id);
  }

  ids(modelVersion: string): bigint[] {
    return [...(this.live.get(modelVersion)?.keys() ?? [])];
  }

  async snapshot(modelVersion: string, _partition?: Partition): Promise<VectorSourceSnapshot> {
    this.reads.snapshots++;
    const watermark = this.seq;
    const rows = [...this.table(modelVersion)].map(([id, vector]) => ({ id, vector }));
    return {
      watermark,
      records: (async function* () {
        for (let i = 0; i < rows.length; i++) {
          // let other work run, as a real cursor would
          if (i % 2048 === 2047) await new Promise((resolve) => setImmediate(resolve));
          yield rows[i]!;
        }
      })(),
    };
  }

  async *since(modelVersion: string, watermark: bigint, _partition?: Partition): AsyncIterable<VectorChange> {
    this.reads.since++;
    const log = this.log.get(modelVersion) ?? [];
    // binary search for the first change after the watermark; the log is in watermark order
    let lo = 0;
    let hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (log[mid]!.watermark <= watermark) lo = mid + 1;
      else hi = mid;
    }
    // read up to the present, including changes made while iterating
    for (let i = lo; i < log.length; i++) yield log[i]!;
  }

  private table(modelVersion: string): Map<bigint, Float32Array> {
    let t = this.live.get(modelVersion);
    if (!t) {
      t = new Map();
      this.live.set(modelVersion, t);
    }
    return t;
  }

  private append(modelVersion: string, change: VectorChange): bigint {
    let log = this.log.get(modelVersion);
    if (!log) {
      log = [];
      this.log.set(modelVersion, log);
    }
    log.push(change);
    return change.watermark;
  }
}
