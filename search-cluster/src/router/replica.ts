import { ShardClient, type ShardClientOptions } from '../protocol/client.ts';
import type { RebuildOutcome } from '../shard/model-index.ts';
import type { Shard, ShardHealth, ShardSearchRequest, ShardStats } from '../shard/shard.ts';
import type { Hit } from '../shard/topk.ts';

/**
 * One replica of one shard as the router sees it: the same calls whether the shard runs in this
 * process or behind HTTP. Every call takes a signal, aborted when the router no longer wants the
 * answer: an HTTP replica cancels its request; an in-process search cannot be cancelled and need
 * not reject (the router enforces search deadlines with its own timer), but writes and control
 * calls reject with the signal's reason so their timeouts hold.
 */
export interface ShardReplica {
  /** For logs and health: the URL, or "local:<shard>". */
  readonly name: string;
  search(request: ShardSearchRequest, signal: AbortSignal): Promise<Hit[][]>;
  upsert(
    modelVersion: string,
    ids: BigInt64Array,
    vectors: Float32Array,
    signal: AbortSignal,
  ): Promise<{ upserted: number; unchanged: number }>;
  delete(modelVersion: string, ids: BigInt64Array, signal: AbortSignal): Promise<{ deleted: number }>;
  rebuild(modelVersion: string, signal: AbortSignal): Promise<RebuildOutcome>;
  addModelVersion(name: string, dimension: number, signal: AbortSignal): Promise<void>;
  dropModelVersion(name: string, signal: AbortSignal): Promise<void>;
  health(signal: AbortSignal): Promise<ShardHealth>;
  stats(signal: AbortSignal): Promise<ShardStats>;
  close(): Promise<void>;
}

/** Settles like `work`, or rejects with the signal's reason first. */
export function withSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => undefined);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** A shard in this process (single-node mode). */
export class LocalReplica implements ShardReplica {
  readonly name: string;

  /** `ownsShard`: close() closes the shard too. */
  constructor(
    readonly shard: Shard,
    private readonly ownsShard = true,
  ) {
    this.name = `local:${shard.partition.index}`;
  }

  search(request: ShardSearchRequest, _signal: AbortSignal): Promise<Hit[][]> {
    // no abort listener: the router's deadline timer drops a late answer, and a listener per call
    // costs more than a small shard's search
    return this.shard.search(request);
  }

  upsert(modelVersion: string, ids: BigInt64Array, vectors: Float32Array, signal: AbortSignal) {
    return withSignal(this.shard.upsert(modelVersion, ids, vectors), signal);
  }

  delete(modelVersion: string, ids: BigInt64Array, signal: AbortSignal) {
    return withSignal(this.shard.delete(modelVersion, ids), signal);
  }

  rebuild(modelVersion: string, signal: AbortSignal) {
    return withSignal(this.shard.rebuild(modelVersion), signal);
  }

  addModelVersion(name: string, dimension: number, signal: AbortSignal) {
    return withSignal(this.shard.addModelVersion(name, dimension), signal);
  }

  dropModelVersion(name: string, signal: AbortSignal) {
    return withSignal(this.shard.dropModelVersion(name), signal);
  }

  health(signal: AbortSignal): Promise<ShardHealth> {
    return withSignal(
      Promise.resolve().then(() => this.shard.health()),
      signal,
    );
  }

  stats(signal: AbortSignal): Promise<ShardStats> {
    return withSignal(
      Promise.resolve().then(() => this.shard.stats()),
      signal,
    );
  }

  async close(): Promise<void> {
    if (this.ownsShard) await this.shard.close();
  }
}

/** A shard server replica reached over HTTP. */
export class RemoteReplica implements ShardReplica {
  readonly name: string;
  private readonly client: ShardClient;

  constructor(url: string, options: ShardClientOptions = {}) {
    this.client = new ShardClient(url, options);
    this.name = this.client.url.origin;
  }

  search(request: ShardSearchRequest, signal: AbortSignal) {
    return this.client.search(request, signal);
  }

  upsert(modelVersion: string, ids: BigInt64Array, vectors: Float32Array, signal: AbortSignal) {
    return this.client.upsert(modelVersion, ids, vectors, signal);
  }

  delete(modelVersion: string, ids: BigInt64Array, signal: AbortSignal) {
    return this.client.delete(modelVersion, ids, signal);
  }

  rebuild(modelVersion: string, signal: AbortSignal) {
    return this.client.rebuild(modelVersion, signal);
  }

  addModelVersion(name: string, dimension: number, signal: AbortSignal) {
    return this.client.addModelVersion(name, dimension, signal);
  }

  dropModelVersion(name: string, signal: AbortSignal) {
    return this.client.dropModelVersion(name, signal);
  }

  health(signal: AbortSignal) {
    return this.client.health(signal);
  }

  stats(signal: AbortSignal) {
    return this.client.stats(signal);
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
