import type { Logger } from '../../../search-cluster/src/index.ts';
import type { BuildReport } from '../lifecycle/reindex.runner.ts';
import { JOBS } from './job-names.ts';
import type { JobReporter } from './job-reporter.ts';

/**
 * The re-index runner's build ends as `reindex` job runs: built is ok, failed is failed, a build
 * cancelled, taken over or left at shutdown (resumed later from its cursor) is skipped.
 */
export function reindexRunsTo(reporter: JobReporter, log: Logger): (report: BuildReport) => void {
  return (report) => {
    const outcome = report.outcome === 'built' ? 'ok' : report.outcome === 'failed' ? 'failed' : 'skipped';
    reporter
      .record(
        JOBS.reindex,
        'demand',
        outcome,
        report.durationMs,
        { modelVersion: report.modelVersion, build: report.outcome, progress: report.progress },
        report.error,
      )
      .catch((error: unknown) => log.warn('re-index run not recorded', { error: String(error) }));
  };
}
