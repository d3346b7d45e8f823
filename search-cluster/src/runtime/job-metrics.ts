import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type JobMetricOutcome = 'ok' | 'failed' | 'skipped';

/**
 * The three series every background job reports, in whichever process runs it (API, worker,
 * shard server). `job` takes the job's fixed name (rebuild, recall-canary, stats-aggregation,
 * drift, reindex, anti-entropy): bounded. With several processes, read them with
 * `max by (job)` (timestamp) or `sum by (job, outcome)` (runs).
 */
export function createJobMetrics(registry: Registry) {
  const lastRun = new Gauge({
    name: 'pixelfind_job_last_run_timestamp_seconds',
    help: 'Unix time at which the last run of a background job ended, by job and outcome.',
    labelNames: ['job', 'outcome'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'pixelfind_job_duration_seconds',
    help: 'How long background job runs took, by job.',
    labelNames: ['job'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [registry],
  });
  const runs = new Counter({
    name: 'pixelfind_job_runs_total',
    help: 'Background job runs by job and outcome (ok, failed, skipped).',
    labelNames: ['job', 'outcome'] as const,
    registers: [registry],
  });
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
