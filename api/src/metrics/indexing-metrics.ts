import type { Counter, Histogram, Registry } from 'prom-client';
import { gaugeFrom, metricDefinitions } from '../../../search-cluster/src/index.ts';
import type { Database } from '../db/database.ts';
import { createIndexJobsRepository } from '../indexing/index-jobs.repository.ts';
import type { JobOutcome } from '../indexing/indexing.worker.ts';

/** What the process running the indexing worker exports (the worker process, or the API in single mode). */
export interface IndexingMetrics {
  uploadToIndexed: Histogram;
  jobs: Counter<'outcome'>;
  /** The hooks the worker graph hands each indexing worker. */
  hooks: { onIndexed(seconds: number): void; onSettled(outcome: JobOutcome): void };
}

export function registerIndexingMetrics(registry: Registry): IndexingMetrics {
  const define = metricDefinitions(registry);
  const uploadToIndexed = define.histogram(
    'pixelfind_upload_to_indexed_seconds',
    'Seconds from upload to searchable (INDEXED and written to its shard), observed by the worker that indexed the image.',
    [],
    [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
  );
  const jobs = define.counter(
    'pixelfind_index_jobs_settled_total',
    'Index jobs settled by this process, by outcome: indexed, duplicate, rejected (unsafe), skipped (deleted), retry, dead (out of attempts).',
    ['outcome'],
  );
  return {
    uploadToIndexed,
    jobs,
    hooks: {
      onIndexed: (seconds) => uploadToIndexed.observe(seconds),
      onSettled: (outcome) => jobs.inc({ outcome }),
    },
  };
}

/**
 * `pixelfind_index_jobs{state}`: the queue as the database holds it (the same value on every
 * process that exports it: aggregate with max, not sum).
 */
export function registerIndexQueueGauge(registry: Registry, db: Database): void {
  const repository = createIndexJobsRepository(db);
  gaugeFrom(
    registry,
    'pixelfind_index_jobs',
    'Index jobs in the database by state (queued, running, dead); the same on every process exporting it.',
    () => repository.depth(),
    'state',
  );
}
