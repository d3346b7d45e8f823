import { createSafetyScorer, type SafetyScorer } from '../encoder/index.ts';
import {
  createIndexingWorker,
  type IndexingWorker,
  type WorkerOptions,
} from '../indexing/indexing.worker.ts';
import type { IndexingMetrics } from '../metrics/indexing-metrics.ts';
import type { CoreGraph } from './core.ts';

export interface WorkerGraphOptions {
  /** Options for the workers made (tests shorten leases and backoff). */
  worker?: WorkerOptions;
  /** nsfwjs in the safety score; tests of unrelated behaviour may turn it off. Default true. */
  nsfw?: boolean;
  /** Where the workers report freshness and job outcomes (the process's registry). Default: nowhere. */
  metrics?: IndexingMetrics;
}

/** The indexing side: the safety scorer (loaded on first use) and workers over the core graph. */
export interface WorkerGraph {
  createWorker(): Promise<IndexingWorker>;
  close(): Promise<void>;
}

export function buildWorkerGraph(core: CoreGraph, options: WorkerGraphOptions = {}): WorkerGraph {
  let safety: Promise<SafetyScorer> | null = null;
  const log = core.log('worker');
  return {
    async createWorker() {
      safety ??= createSafetyScorer({ encoder: core.encoder, nsfw: options.nsfw ?? true });
      return createIndexingWorker(
        {
          db: core.db,
          blobs: core.blobs,
          embedder: core.encoder,
          safety: await safety,
          vectors: core.cluster,
          log,
          ...(options.metrics ? options.metrics.hooks : {}),
        },
        { safetyThreshold: core.config.search.safetyThreshold, ...core.config.indexer, ...options.worker },
      );
    },
    async close() {
      if (safety) await (await safety).close();
    },
  };
}
