import { createProcessMetrics } from '../../../search-cluster/src/index.ts';
import { registerIndexingMetrics } from './indexing-metrics.ts';

/** The worker process's routes (its listener serves only these). */
export const WORKER_ROUTES = { exact: ['/healthz', '/readyz', '/metrics'] };

/**
 * Prometheus metrics of one worker process (`npm run worker`), served at its `/metrics`: the
 * shared process metrics and the indexing metrics (freshness, job outcomes). Other modules
 * register their own series on `registry`.
 */
export function createWorkerMetrics() {
  const base = createProcessMetrics({ routes: WORKER_ROUTES });
  return { ...base, indexing: registerIndexingMetrics(base.registry) };
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
