import type { Queryable } from '../db/database.ts';
import { inTransaction } from '../db/unit-of-work.ts';
import { createSafetyScorer, type SafetyScorer } from '../encoder/index.ts';
import { createIndexJobsRepository } from '../indexing/index-jobs.repository.ts';
import { createIndexingRepository } from '../indexing/indexing.repository.ts';
import {
  createIndexingWorker,
  type IndexingRepositories,
  type IndexingWorker,
  type WorkerOptions,
} from '../indexing/indexing.worker.ts';
import { createReindexRunner, type ReindexOptions, type ReindexRunner } from '../lifecycle/reindex.runner.ts';
import type { IndexingMetrics } from '../metrics/indexing-metrics.ts';
import { createContentBlocklistRepository } from '../moderation/content-blocklist.repository.ts';
import type { CoreGraph } from './core.ts';

const indexingRepositories = (db: Queryable): IndexingRepositories => ({
  jobs: createIndexJobsRepository(db),
  images: createIndexingRepository(db),
});

export interface WorkerGraphOptions {
  /** Options for the workers made (tests shorten leases and backoff). */
  worker?: WorkerOptions;
  /** nsfwjs in the safety score; tests of unrelated behaviour may turn it off. Default true. */
  nsfw?: boolean;
  /** Where the workers report freshness and job outcomes (the process's registry). Default: nowhere. */
  metrics?: IndexingMetrics;
  /** Options for the shadow re-index runner (tests shorten its waits). */
  reindex?: ReindexOptions;
}

/** The indexing side: the safety scorer (loaded on first use) and workers over the core graph. */
export interface WorkerGraph {
  createWorker(): Promise<IndexingWorker>;
  /** The shadow re-index runner (one per worker process; builds are leased, so more are safe). */
  createReindexRunner(): ReindexRunner;
  close(): Promise<void>;
}

export function buildWorkerGraph(core: CoreGraph, options: WorkerGraphOptions = {}): WorkerGraph {
  let safety: Promise<SafetyScorer> | null = null;
  const log = core.log('worker');
  return {
    async createWorker() {
      // the converted nsfwjs model lives beside the CLIP models (MODELS_DIR, default DATA_DIR/models)
      safety ??= createSafetyScorer({
        encoder: core.encoder,
        nsfw: options.nsfw ?? true,
        modelsDir: core.config.encoder.modelsDir,
      });
      return createIndexingWorker(
        {
          repositories: indexingRepositories(core.db),
          transaction: inTransaction(core.db, indexingRepositories),
          blockedContent: createContentBlocklistRepository(core.db),
          blobs: core.blobs,
          embedder: core.encoder,
          safety: await safety,
          vectors: core.cluster,
          targets: () => core.serving.writeTargets(),
          log,
          ...(options.metrics ? options.metrics.hooks : {}),
        },
        { safetyThreshold: core.config.search.safetyThreshold, ...core.config.indexer, ...options.worker },
      );
    },
    createReindexRunner() {
      const jobs = createIndexJobsRepository(core.db);
      return createReindexRunner(
        {
          db: core.db,
          blobs: core.blobs,
          pool: core.encoders,
          vectors: core.cluster,
          hasPendingUploads: () => jobs.hasReady(),
          onBuilt: (version, owner) => core.lifecycle.onBuilt(version, owner),
          log: core.log('reindex'),
        },
        {
          batchSize: core.config.lifecycle.reindexBatchSize,
          maxYieldMs: core.config.lifecycle.reindexMaxYieldMs,
          ...options.reindex,
        },
      );
    },
    async close() {
      if (safety) await (await safety).close();
    },
  };
}
