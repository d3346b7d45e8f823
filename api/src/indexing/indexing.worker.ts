import { randomUUID } from 'node:crypto';
import { type LogSink, mapConcurrent, silentLogger } from '../../../search-cluster/src/index.ts';
import type { BlobStore } from '../blobs/blob-store.ts';
import type { InTransaction } from '../db/unit-of-work.ts';
import { perceptualHash } from '../images/phash.ts';
import type { ContentBlocklistRepository } from '../moderation/content-blocklist.repository.ts';
import { blobKeyOf } from '../upload/upload.service.ts';
import { encodeBatch } from './encode-batch.ts';
import type { ClaimedJob, IndexJobsRepository } from './index-jobs.repository.ts';
import type { ImageEmbedder, SafetyCheck, VectorWriter } from './indexing.ports.ts';
import type { ImageToIndex, IndexingRepository } from './indexing.repository.ts';
import { createBatchSettler, type EncodedJob, type JobOutcome } from './settle-batch.ts';

export type { JobOutcome } from './settle-batch.ts';

export interface WorkerOptions {
  /** Jobs claimed and encoded together. Default 16. */
  batchSize?: number;
  /** Lease length; a live worker renews at a third of it. Default 30 s. */
  leaseSeconds?: number;
  /** Attempts before the image is FAILED and the job parked. Default 5. */
  maxAttempts?: number;
  /** Images scoring under this are REJECTED and never indexed. Default 0.5. */
  safetyThreshold?: number;
  /** Idle poll interval when the queue is empty. Default 250 ms. */
  pollMs?: number;
  /** Backoff base: attempt n waits base * 2^(n-1) seconds, capped at 10 minutes. Default 2. */
  backoffBaseSeconds?: number;
}

/** The worker's repositories; inside a transaction it gets the jobs and images ones bound to it. */
export interface IndexingRepositories {
  jobs: IndexJobsRepository;
  images: IndexingRepository;
}

export interface WorkerDeps {
  repositories: IndexingRepositories;
  /** The job settles with its image in one transaction (built by the composition root). */
  transaction: InTransaction<IndexingRepositories>;
  blockedContent: ContentBlocklistRepository;
  blobs: BlobStore;
  embedder: ImageEmbedder;
  safety: SafetyCheck;
  vectors: VectorWriter;
  /** The worker's logger (component `worker`). Default: silent. */
  log?: LogSink;
  /** Seconds from upload to INDEXED, for each image indexed (freshness metric). */
  onIndexed?: (seconds: number) => void;
  /**
   * The model versions every upload is written to, the ACTIVE first (the lifecycle's warm
   * versions: a shadow re-index in progress gets fresh uploads too). Default: the embedder's only.
   */
  targets?: () => { modelVersion: string; encoder: Pick<ImageEmbedder, 'encodeImages'> }[];
  /** Each job's outcome as it settles (the jobs metric). */
  onSettled?: (outcome: JobOutcome) => void;
}

/**
 * Blob reads of a batch in flight at once (and, for jobs that fail there, their database
 * round trips): enough to hide a remote blob store's latency, few enough to leave most of a
 * 10-connection pool to the API.
 */
const READ_LANES = 4;

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 2000);

/**
 * The indexing worker: claims jobs from Postgres, encodes their images in one batch, gates
 * on safety, records the batch's embeddings + tags + INDEXED in one transaction, then writes
 * the vectors to their shards (settle-batch.ts). Every step is idempotent, so a job that runs twice (a lease that expired on a
 * slow worker) leaves one embedding, one set of tags and one vector.
 */
export function createIndexingWorker(deps: WorkerDeps, options: WorkerOptions = {}) {
  const batchSize = options.batchSize ?? 16;
  const leaseSeconds = options.leaseSeconds ?? 30;
  const maxAttempts = options.maxAttempts ?? 5;
  const threshold = options.safetyThreshold ?? 0.5;
  const pollMs = options.pollMs ?? 250;
  const backoffBase = options.backoffBaseSeconds ?? 2;
  const owner = `worker-${process.pid}-${randomUUID().slice(0, 8)}`;
  const { jobs, images } = deps.repositories;
  const { transaction } = deps;
  const log = deps.log ?? silentLogger;
  const { embedder } = deps;

  let running = false;
  let loop: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  const held = new Set<string>();
  const counts: Record<JobOutcome, number> = {
    indexed: 0,
    duplicate: 0,
    rejected: 0,
    skipped: 0,
    retry: 0,
    dead: 0,
  };

  async function fail(job: ClaimedJob, error: unknown): Promise<JobOutcome> {
    const message = describe(error);
    if (job.attempts >= maxAttempts) {
      await transaction(async (tx) => {
        await tx.jobs.bury(owner, job.id, message);
        await tx.images.markFailed(job.image_id, message);
      });
      log.error('index job dead', { job: job.id, image: job.image_id, error: message });
      return 'dead';
    }
    const delay = Math.min(600, backoffBase * 2 ** (job.attempts - 1));
    await jobs.retryLater(owner, job.id, message, delay);
    return 'retry';
  }

  const targetsOf = () => {
    const targets = deps.targets?.() ?? [];
    return targets.length > 0 ? targets : [{ modelVersion: embedder.modelVersion, encoder: embedder }];
  };
  const versionsOf = () => targetsOf().map((t) => t.modelVersion);

  /** The image's vector under every target version: the ACTIVE one must succeed, others may skip. */
  async function vectorsFor(
    image: ImageToIndex,
    bytes: Buffer,
    vector: Float32Array,
  ): Promise<{ modelVersion: string; vector: Float32Array }[]> {
    const out: { modelVersion: string; vector: Float32Array }[] = [];
    for (const [i, target] of targetsOf().entries()) {
      if (target.modelVersion === embedder.modelVersion) {
        out.push({ modelVersion: target.modelVersion, vector });
        continue;
      }
      try {
        const [v] = await target.encoder.encodeImages([bytes]);
        if (!v) throw new Error('encoder returned no vector');
        out.push({ modelVersion: target.modelVersion, vector: v });
      } catch (error) {
        if (i === 0) throw error;
        // skip: a version being built sweeps up images without its vector before it is READY
        log.warn('upload not written to a non-active model version', {
          image: image.id,
          modelVersion: target.modelVersion,
          error: describe(error),
        });
      }
    }
    return out;
  }

  /**
   * The work of one image that reads no state another job could change, started for the whole
   * batch at once so that decoding, nsfwjs and the batch's CLIP encode overlap (the safety
   * scorer batches the concurrent calls and starts nsfwjs before the embedding is there): its
   * pHash and its safety score. The decisions that read the database (blocklist, twin) are the
   * settler's (settle-batch.ts), right before the records are written.
   */
  function prepare(image: ImageToIndex, bytes: Buffer, encoded: Promise<Float32Array | Error | undefined>) {
    // the upload hashed these same bytes with the same function; a null there (a flat image, or
    // a row written without one) is computed again here
    const phash: Promise<bigint | null> =
      image.phash !== null
        ? Promise.resolve(BigInt.asUintN(64, BigInt(image.phash)))
        : perceptualHash(bytes).then(
            (p) => p.hash,
            () => null,
          );
    const safety = deps.safety.score(
      bytes,
      encoded.then((vector) => {
        if (vector instanceof Float32Array) return vector;
        throw vector ?? new Error('encoder returned no vector');
      }),
    );
    // settled later by the settler, or never when the encode failed: not an unhandled rejection
    safety.catch(() => {});
    return { phash, safety };
  }

  const settle = createBatchSettler({
    owner,
    threshold,
    repositories: deps.repositories,
    transaction,
    blockedContent: deps.blockedContent,
    embedder,
    vectors: deps.vectors,
    log,
    activeVersion: () => targetsOf()[0]!.modelVersion,
    vectorsFor,
    fail,
    ...(deps.onIndexed ? { onIndexed: deps.onIndexed } : {}),
  });

  /** One batch: claim, encode together, settle each job. Returns the outcomes. */
  async function runBatch(): Promise<JobOutcome[]> {
    for (const dead of await jobs.buryCrashLooping(maxAttempts)) {
      counts.dead += 1;
      deps.onSettled?.('dead');
      log.error('index job dead: its worker kept dying', {
        job: dead.id,
        image: dead.image_id,
        attempts: dead.attempts,
      });
    }
    const claimed = await jobs.claim(owner, batchSize, leaseSeconds);
    if (claimed.length === 0) return [];
    for (const job of claimed) held.add(job.id);
    const renew = setInterval(
      () => {
        jobs
          .renew(owner, [...held], leaseSeconds)
          .catch((error) => log.warn('lease renew failed', { error: describe(error) }));
      },
      (leaseSeconds * 1000) / 3,
    );
    renew.unref();
    try {
      const rows = new Map(
        (await images.imagesForJobs(claimed.map((j) => j.image_id))).map((r) => [r.id, r]),
      );
      const outcomes = new Map<string, JobOutcome>();
      const read = await mapConcurrent(claimed, READ_LANES, async (job) => {
        const image = rows.get(job.image_id);
        try {
          if (!image || image.deleted_at || job.kind === 'delete') {
            if (job.kind === 'delete' || image?.deleted_at) {
              for (const version of versionsOf()) await deps.vectors.remove(version, [BigInt(job.image_id)]);
            }
            await jobs.complete(owner, [job.id]);
            outcomes.set(job.id, 'skipped');
            return null;
          }
          const blob = await deps.blobs.get(blobKeyOf(image.storage_url));
          if (!blob) throw new Error(`blob ${image.storage_url} is missing`);
          return { job, image, bytes: blob.bytes };
        } catch (error) {
          outcomes.set(job.id, await fail(job, error));
          return null;
        }
      });
      const toEncode = read.filter((r) => r !== null);

      const encoding = encodeBatch(
        embedder,
        toEncode.map((e) => e.bytes),
      );
      const prepared = toEncode.map(({ image, bytes }, i) =>
        prepare(
          image,
          bytes,
          encoding.then((v) => v[i]),
        ),
      );
      const vectors = await encoding;
      const encoded: EncodedJob[] = [];
      for (const [i, { job, image, bytes }] of toEncode.entries()) {
        const vector = vectors[i];
        if (vector instanceof Float32Array) {
          encoded.push({ job, image, bytes, vector, ...prepared[i]! });
        } else {
          outcomes.set(job.id, await fail(job, vector ?? new Error('encoder returned no vector')));
        }
      }
      // images with the same bytes settle one after another in batch order, so the second finds
      // the first as its indexed twin: round r settles the r-th job of each sha256 together
      const rounds: EncodedJob[][] = [];
      const seen = new Map<string, number>();
      for (const item of encoded) {
        const r = seen.get(item.image.sha256) ?? 0;
        seen.set(item.image.sha256, r + 1);
        if (r === rounds.length) rounds.push([]);
        rounds[r]!.push(item);
      }
      for (const round of rounds) await settle(round, outcomes);
      const result = claimed.map((job) => outcomes.get(job.id) ?? 'retry');
      for (const outcome of result) {
        counts[outcome] += 1;
        deps.onSettled?.(outcome);
      }
      return result;
    } finally {
      clearInterval(renew);
      for (const job of claimed) held.delete(job.id);
    }
  }

  return {
    owner,
    runBatch,
    /** Index jobs waiting (not re-index work): the shadow re-index yields while there are any. */
    hasPendingUploads: () => jobs.hasReady(),
    counts: () => ({ ...counts }),

    /** Runs until stop(); drains the queue, then polls. Call `nudge()` after an upload. */
    start() {
      if (running) return;
      running = true;
      loop = (async () => {
        while (running) {
          let outcomes: JobOutcome[] = [];
          try {
            outcomes = await runBatch();
          } catch (error) {
            log.error('indexing batch failed', { error: describe(error) });
          }
          if (outcomes.length === 0 && running) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, pollMs);
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

    /** Work is waiting: skip the rest of the idle wait. */
    nudge() {
      wake?.();
    },

    /** Finishes the batch in hand, then returns; any job still held is released. */
    async stop() {
      running = false;
      wake?.();
      await loop;
      await jobs.release(owner, [...held]);
    },
  };
}
export type IndexingWorker = ReturnType<typeof createIndexingWorker>;
