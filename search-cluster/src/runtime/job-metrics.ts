import type { Registry } from 'prom-client';
import { metricDefinitions } from './metrics.ts';

export type JobMetricOutcome = 'ok' | 'failed' | 'skipped';

/**
 * The three series every background job reports, in whichever process runs it (API, worker,
 * shard server). `job` takes the job's fixed name (rebuild, recall-canary, stats-aggregation,
 * drift, reindex, anti-entropy): bounded. With several processes, read them with
 * `max by (job)` (timestamp) or `sum by (job, outcome)` (runs).
 */
export function createJobMetrics(registry: Registry) {
  const define = metricDefinitions(registry);
  const lastRun = define.gauge(
    'pixelfind_job_last_run_timestamp_seconds',
    'Unix time at which the last run of a background job ended, by job and outcome.',
    ['job', 'outcome'],
  );
  const duration = define.histogram(
    'pixelfind_job_duration_seconds',
    'How long background job runs took, by job.',
    ['job'],
    [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
  );
  const runs = define.counter(
    'pixelfind_job_runs_total',
    'Background job runs by job and outcome (ok, failed, skipped).',
    ['job', 'outcome'],
  );
  return {
    /** Records one finished run. */
    observe(job: string, outcome: JobMetricOutcome, seconds: number, endedAt = Date.now()) {
      lastRun.set({ job, outcome }, endedAt / 1000);
      duration.observe({ job }, seconds);
      runs.inc({ job, outcome });
    },
  };
}
export type JobMetrics = ReturnType<typeof createJobMetrics>;
