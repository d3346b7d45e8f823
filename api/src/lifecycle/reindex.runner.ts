import { randomUUID } from 'node:crypto';
import { type Logger, silentLogger } from '../../../search-cluster/src/index.ts';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { Database } from '../db/database.ts';
import type { Encoder } from '../encoder/index.ts';
import { encodeBatch } from '../indexing/encode-batch.ts';
import type { VectorWriter } from '../indexing/indexing.ports.ts';
import { createIndexingRepository } from '../indexing/indexing.repository.ts';
import { blobKeyOf } from '../upload/upload.service.ts';
import type { EncoderPool } from './encoder-pool.ts';
import { createIndexVersionsRepository, type IndexVersion } from './index-versions.repository.ts';

export interface ReindexOptions {
  /** Images re-embedded per batch; an upload waits behind at most one batch. Default 16. */
  batchSize?: number;
  /** The build's lease; a crashed runner's build is resumed by another after it. Default 30 s. */
  leaseSeconds?: number;
  /** Idle poll for a build to take. Default 1000 ms. */
  pollMs?: number;
  /** Longest the runner waits for queued uploads before its next batch. Default 2000 ms. */
  maxYieldMs?: number;
}

export interface ReindexDeps {
  db: Database;
  blobs: BlobStore;
  pool: EncoderPool;
  vectors: VectorWriter;
  /** Uploads are waiting for the indexing worker: the re-index steps aside. */
  hasPendingUploads: () => Promise<boolean>;
  /** Called when a build has every vector: evaluates the version and makes it READY. */
  onBuilt: (version: IndexVersion, owner: string) => Promise<void>;
  /** Told how each build this runner took ended (the job reports: runs, metrics). */
  onBuildEnd?: (report: BuildReport) => void;
  log?: Logger;
}

/** One build's end as this runner saw it. */
export interface BuildReport {
  modelVersion: string;
  outcome: Exclude<BuildOutcome, 'idle'>;
  durationMs: number;
  /** Images of the build done when it ended, and in all. */
  progress: { done: number; total: number } | null;
  error?: string;
}

/** lost: cancelled or taken over; stopped: the process stops (another resumes from the cursor). */
export type BuildOutcome = 'idle' | 'built' | 'lost' | 'stopped' | 'failed';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * The shadow re-index: walks every live image in id order, re-embeds it from its blob with the
 * new model, writes the vector of record and the version's shard index, then moves a cursor
 * stored with the version. A crash loses at most one batch (re-done: every write is
 * idempotent) and another runner resumes after the lease. Before every batch it yields to
 * queued uploads (up to maxYieldMs), so a fresh upload waits behind at most one batch.
 * Uploads that land meanwhile are written to the building version by the indexing worker; a
 * final sweep picks up any that raced the walk.
 */
export function createReindexRunner(deps: ReindexDeps, options: ReindexOptions = {}) {
  const batchSize = options.batchSize ?? 16;
  const leaseSeconds = options.leaseSeconds ?? 30;
  const pollMs = options.pollMs ?? 1000;
  const maxYieldMs = options.maxYieldMs ?? 2000;
  const owner = `reindex-${process.pid}-${randomUUID().slice(0, 8)}`;
  const versions = createIndexVersionsRepository(deps.db);
  const log = deps.log ?? silentLogger;
  let running = false;
  let stopping = false;
  let loop: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  /** Images this build could not embed (missing blob, undecodable for the model): not swept again. */
  const unembeddable = new Map<string, Set<string>>();

  async function yieldToUploads(): Promise<void> {
    const until = Date.now() + maxYieldMs;
    while (Date.now() < until && (await deps.hasPendingUploads())) await sleep(25);
  }

  async function embedBatch(
    modelVersion: string,
    encoder: Encoder,
    images: { id: string; storage_url: string }[],
  ): Promise<number> {
    const skip = unembeddable.get(modelVersion) ?? new Set<string>();
    unembeddable.set(modelVersion, skip);
    const loaded: { id: string; bytes: Buffer }[] = [];
    for (const image of images) {
      const blob = await deps.blobs.get(blobKeyOf(image.storage_url)).catch(() => null);
      if (blob) loaded.push({ id: image.id, bytes: blob.bytes });
      else skip.add(image.id);
    }
    // an image that cannot be encoded is skipped, not its batch-mates
    const vectors = await encodeBatch(
      encoder,
      loaded.map((l) => l.bytes),
    );
    const items: { id: bigint; vector: Float32Array }[] = [];
    await deps.db.transaction(async (tx) => {
      const repo = createIndexingRepository(tx);
      for (const [i, l] of loaded.entries()) {
        const vector = vectors[i];
        if (!vector || vector instanceof Error) {
          skip.add(l.id);
          continue;
        }
        await repo.putEmbedding(l.id, modelVersion, vector);
        items.push({ id: BigInt(l.id), vector });
      }
    });
    if (items.length > 0) {
      // the record is committed; a shard that missed this catches up from the embeddings table
      await deps.vectors.upsert(modelVersion, items).catch((error: unknown) => {
        log.warn('re-index shard write deferred to catch-up', { modelVersion, error: String(error) });
      });
    }
    return images.length;
  }

  /** Takes one build (if any) and runs it to the end, or until its lease is lost (cancelled). */
  async function runOnce(): Promise<BuildOutcome> {
    const build = await versions.claimBuild(owner, leaseSeconds);
    if (!build) return 'idle';
    const started = performance.now();
    const outcome = await runBuild(build);
    if (deps.onBuildEnd && outcome !== 'idle') {
      const after = await versions.get(build.modelVersion).catch(() => null);
      deps.onBuildEnd({
        modelVersion: build.modelVersion,
        outcome,
        durationMs: performance.now() - started,
        progress: after?.progress ?? null,
        ...(outcome === 'failed' && after?.lastError ? { error: after.lastError } : {}),
      });
    }
    return outcome;
  }

  async function runBuild(build: IndexVersion): Promise<BuildOutcome> {
    const { modelVersion } = build;
    log.info('re-index started', { modelVersion, cursor: build.reindexCursor, ...build.progress });
    const renew = setInterval(
      () => {
        versions.renewBuild(modelVersion, owner, leaseSeconds).catch(() => undefined);
      },
      (leaseSeconds * 1000) / 3,
    );
    renew.unref();
    try {
      const encoder = await deps.pool.get(modelVersion);
      let cursor = build.reindexCursor;
      while (!stopping) {
        await yieldToUploads();
        const batch = await versions.imagesAfter(cursor, batchSize);
        if (batch.length === 0) break;
        const done = await embedBatch(modelVersion, encoder, batch);
        cursor = batch[batch.length - 1]!.id;
        if (!(await versions.advance(modelVersion, owner, cursor, done))) return 'lost';
      }
      if (stopping) return 'stopped';
      // uploads that raced the walk: indexed before the cursor passed them, written before the
      // worker saw this version
      for (;;) {
        const skip = unembeddable.get(modelVersion) ?? new Set<string>();
        const missing = (await versions.missing(modelVersion, batchSize + skip.size)).filter(
          (m) => !skip.has(m.id),
        );
        if (missing.length === 0) break;
        await embedBatch(modelVersion, encoder, missing.slice(0, batchSize));
        if (!(await versions.renewBuild(modelVersion, owner, leaseSeconds))) return 'lost';
      }
      if (!(await versions.finishBuild(modelVersion, owner))) return 'lost';
      const skipped = unembeddable.get(modelVersion)?.size ?? 0;
      if (skipped > 0) log.warn('re-index skipped images it could not embed', { modelVersion, skipped });
      const finished = (await versions.get(modelVersion))!;
      await deps.onBuilt(finished, owner);
      log.info('re-index built', { modelVersion, images: finished.progress.total });
      return 'built';
    } catch (error) {
      log.error('re-index failed', { modelVersion, error: String(error) });
      await versions.markFailed(modelVersion, String(error));
      return 'failed';
    } finally {
      clearInterval(renew);
      await versions.releaseBuild(modelVersion, owner).catch(() => undefined);
    }
  }

  return {
    owner,
    runOnce,
    start(): void {
      if (running) return;
      running = true;
      stopping = false;
      loop = (async () => {
        while (running) {
          let outcome: BuildOutcome = 'idle';
          try {
            outcome = await runOnce();
          } catch (error) {
            log.error('re-index runner failed', { error: String(error) });
          }
          if (outcome === 'idle' && running) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, pollMs);
              timer.unref();
              wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
            wake = null;
          }
        }
      })();
    },
    /** A build was just started: skip the rest of the idle wait. */
    nudge(): void {
      wake?.();
    },
    async stop(): Promise<void> {
      running = false;
      stopping = true;
      wake?.();
      await loop;
      loop = null;
      stopping = false;
    },
  };
}
export type ReindexRunner = ReturnType<typeof createReindexRunner>;
