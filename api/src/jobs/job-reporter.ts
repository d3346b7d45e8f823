import type { JobMetrics, Logger } from '../../../search-cluster/src/index.ts';
import type { JobRunRecord, JobsRepository, JobTrigger } from './jobs.repository.ts';

/** What a job's body answers: the outcome (skipped: nothing to do, or not its turn) and details. */
export interface JobResult {
  outcome?: 'ok' | 'skipped';
  details?: Record<string, unknown>;
}

export interface JobReporter {
  /**
   * Runs `body` as one recorded run of `job`: a job_runs row (running, then its outcome and
   * duration), the job metrics, and a log line (failures at level error). A throw is the run's
   * failure: it is recorded and then rethrown.
   */
  run(
    job: string,
    trigger: JobTrigger,
    body: (run: JobRunRecord) => Promise<JobResult | undefined>,
    startDetails?: Record<string, unknown>,
  ): Promise<JobResult & { run: JobRunRecord }>;
  /**
   * Records a run that happened elsewhere without a row of its own first (a frequent job such as
   * stats aggregation): one finished row, the metrics and, on failure, an error line.
   */
  record(
    job: string,
    trigger: JobTrigger,
    outcome: 'ok' | 'failed' | 'skipped',
    durationMs: number,
    details?: Record<string, unknown>,
    error?: unknown,
    options?: { quiet?: boolean },
  ): Promise<void>;
  /** Counts a run in the metrics only (a frequent run with nothing to report). */
  observe(job: string, outcome: 'ok' | 'failed' | 'skipped', durationMs: number): void;
  readonly owner: string;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export function createJobReporter(deps: {
  jobs: JobsRepository;
  metrics: JobMetrics;
  log: Logger;
  /** This process's name in job_runs.owner and leases. */
  owner: string;
}): JobReporter {
  const { jobs, metrics, log, owner } = deps;
  return {
    owner,
    async run(job, trigger, body, startDetails = {}) {
      const run = await jobs.startRun(job, trigger, owner, startDetails);
      const started = performance.now();
      let result: JobResult | undefined;
      try {
        result = await body(run);
      } catch (error) {
        const ms = performance.now() - started;
        metrics.observe(job, 'failed', ms / 1000);
        log.error('background job failed', { job, trigger, runId: run.id, error: message(error) });
        await jobs
          .finishRun(run.id, 'failed', ms, message(error), startDetails)
          .catch((e) => log.error('job run not recorded', { job, runId: run.id, error: message(e) }));
        throw error;
      }
      const ms = performance.now() - started;
      const outcome = result?.outcome ?? 'ok';
      const details = { ...startDetails, ...result?.details };
      metrics.observe(job, outcome, ms / 1000);
      log.info('background job finished', {
        job,
        trigger,
        runId: run.id,
        outcome,
        durationMs: Math.round(ms),
      });
      await jobs.finishRun(run.id, outcome, ms, null, details);
      return { outcome, details, run: { ...run, outcome, duration_ms: Math.round(ms), details } };
    },
    observe(job, outcome, durationMs) {
      metrics.observe(job, outcome, durationMs / 1000);
    },
    async record(job, trigger, outcome, durationMs, details = {}, error, options = {}) {
      metrics.observe(job, outcome, durationMs / 1000);
      if (outcome === 'failed' && !options.quiet)
        log.error('background job failed', { job, trigger, error: message(error) });
      const run = await jobs.startRun(job, trigger, owner, details);
      await jobs.finishRun(
        run.id,
        outcome,
        durationMs,
        outcome === 'failed' ? message(error) : null,
        details,
      );
    },
  };
}
