import { hostname } from 'node:os';
import { createJobMetrics, type Logger } from '../../../search-cluster/src/index.ts';
import type { ClusterClient } from '../cluster/cluster.client.ts';
import type { Config } from '../config/config.ts';
import type { Database } from '../db/database.ts';
import type { Encoder } from '../encoder/index.ts';
import { JOBS } from '../jobs/job-names.ts';
import { createJobReporter, type JobReporter } from '../jobs/job-reporter.ts';
import { createJobsRepository, type JobsRepository } from '../jobs/jobs.repository.ts';
import { createRebuildService, type RebuildService } from '../jobs/rebuild.service.ts';
import { createScheduler, type Scheduler } from '../jobs/scheduler.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { createCanaryRepository } from '../quality/canary.repository.ts';
import { createDrift, type Drift } from '../quality/drift.ts';
import { createRecallCanaryGauge, runRecallCanary } from '../quality/recall-canary.ts';

/** The background jobs of an API process: reports, the schedule, rebuilds, canary, drift. */
export interface JobsGraph {
  repository: JobsRepository;
  reporter: JobReporter;
  scheduler: Scheduler;
  rebuild: RebuildService;
  drift: Drift;
  /** The scheduled jobs and their cron expressions (for Query.backgroundJobs). */
  schedules: Record<string, string | null>;
  start(): void;
  stop(): Promise<void>;
}

export interface JobsGraphOptions {
  /** The golden set's text queries for the recall canary (model lifecycle). Default: none. */
  goldenQueries?: () => Promise<string[]>;
}

export function buildJobsGraph(
  deps: {
    config: Config;
    db: Database;
    cluster: ClusterClient;
    encoder: Encoder;
    metrics: Metrics;
    log: Logger;
  },
  options: JobsGraphOptions = {},
): JobsGraph {
  const { config, db, cluster, encoder, metrics, log } = deps;
  const repository = createJobsRepository(db);
  const reporter = createJobReporter({
    jobs: repository,
    metrics: createJobMetrics(metrics.registry),
    log,
    owner: `${hostname()}:${process.pid}`,
  });
  const scheduler = createScheduler({ jobs: repository, reporter, log });
  const rebuild = createRebuildService({
    cluster,
    jobs: repository,
    reporter,
    log,
    thresholds: config.jobs.rebuildThresholds,
  });
  const quality = createCanaryRepository(db);
  const drift = createDrift({
    quality,
    registry: metrics.registry,
    windowHours: config.jobs.driftWindowHours,
  });
  const canaryGauge = createRecallCanaryGauge(metrics.registry);

  const { rebuildCron, rebuildCheckCron, canaryCron, driftCron } = config.jobs;
  if (rebuildCron) {
    scheduler.add({
      name: JOBS.rebuild,
      cron: rebuildCron,
      reported: false,
      run: () => rebuild.runScheduled(),
    });
  }
  if (rebuildCheckCron) {
    scheduler.add({
      name: JOBS.rebuildCheck,
      cron: rebuildCheckCron,
      run: () => rebuild.runThresholdCheck(),
    });
  }
  if (canaryCron) {
    scheduler.add({
      name: JOBS.recallCanary,
      cron: canaryCron,
      run: async () => {
        const measurements = await runRecallCanary({
          cluster,
          quality,
          encoder,
          queriesPerKind: config.jobs.canaryQueries,
          ...(options.goldenQueries ? { goldenQueries: options.goldenQueries } : {}),
        });
        for (const m of measurements) {
          canaryGauge.set(
            { model_version: m.modelVersion, tier: m.tier, query_kind: m.queryKind },
            m.recallAt10,
          );
        }
        return { outcome: measurements.length ? 'ok' : 'skipped', details: { measurements } };
      },
    });
  }
  if (driftCron) {
    scheduler.add({
      name: JOBS.drift,
      cron: driftCron,
      run: async () => {
        const stats = await cluster.stats();
        const versions = new Set(
          stats.shards.flatMap((s) =>
            s.replicas.flatMap((r) => r.stats?.modelVersions.map((m) => m.modelVersion) ?? []),
          ),
        );
        const measurements = [];
        for (const version of versions) measurements.push(await drift.measure(version));
        return { details: { measurements } };
      },
    });
  }

  return {
    repository,
    reporter,
    scheduler,
    rebuild,
    drift,
    schedules: {
      [JOBS.rebuild]: rebuildCron,
      [JOBS.rebuildCheck]: rebuildCheckCron,
      [JOBS.recallCanary]: canaryCron,
      [JOBS.drift]: driftCron,
      [JOBS.statsAggregation]: `every ${config.statsEveryMs} ms`,
    },
    start: () => scheduler.start(),
    async stop() {
      await scheduler.stop();
      await rebuild.settled();
    },
  };
}
