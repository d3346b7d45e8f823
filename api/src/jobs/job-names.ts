/**
 * The fixed name of every background job the API's processes run: the `job` of job_runs rows and
 * of the pixelfind_job_* series (a bounded label), and the keys of `Query.backgroundJobs`. The
 * shard server's one job, anti-entropy, is named where it runs (search-cluster/src/server).
 */
export const JOBS = {
  rebuild: 'rebuild',
  rebuildCheck: 'rebuild-check',
  recallCanary: 'recall-canary',
  drift: 'drift',
  statsAggregation: 'stats-aggregation',
  reindex: 'reindex',
} as const;

export type JobName = (typeof JOBS)[keyof typeof JOBS];

/** Every job: `Query.backgroundJobs` lists them even before their first run. */
export const JOB_NAMES: readonly JobName[] = Object.values(JOBS);
