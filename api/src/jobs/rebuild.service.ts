import { type Logger, type RebuildThresholds, rebuildReason } from '../../../search-cluster/src/index.ts';
import type { ClusterClient, RebuildReport } from '../cluster/cluster.client.ts';
import { JOBS } from './job-names.ts';
import type { JobReporter, JobResult } from './job-reporter.ts';
import type { JobRunRecord, JobsRepository, JobTrigger } from './jobs.repository.ts';
import { runExclusive } from './lease.ts';

/** Held while main tiers are being rebuilt, whatever started it: one rebuild run in the cluster at a time. */
export const REBUILD_LEASE = 'rebuild-run';

/** One replica's main tier of one model version. */
export interface RebuildTarget {
  shard: number;
  replica: string;
  modelVersion: string;
  /** Why it is due (threshold runs): 'hot-tier' or 'tombstones'. */
  reason?: string;
}

export interface RebuildRequest {
  /** Only these model versions. Default: every version the replicas serve. */
  modelVersions?: readonly string[] | null;
  /** Only these shard indexes. Default: every shard. */
  shards?: readonly number[] | null;
}

export type StartedRebuild =
  | { started: true; run: JobRunRecord; targets: RebuildTarget[]; done: Promise<RebuildSummary> }
  | { started: false; holder: string | null; targets: RebuildTarget[] };

export interface RebuildSummary {
  rebuilt: number;
  failed: number;
  skipped: number;
  replicas: (RebuildReport & { modelVersion: string })[];
}

const key = (shard: number, replica: string, modelVersion: string) =>
  `${shard}\u0000${replica}\u0000${modelVersion}`;

/**
 * Main-tier rebuilds, whoever asks (the nightly schedule, the threshold check, an admin): one run
 * at a time in the whole cluster (the Postgres lease `rebuild-run`), one replica at a time within
 * a run (the router), each run reported as job `rebuild` with its trigger.
 */
export function createRebuildService(deps: {
  cluster: ClusterClient;
  jobs: JobsRepository;
  reporter: JobReporter;
  log: Logger;
  thresholds: RebuildThresholds;
  /** How long a run may go silent before another process may take the lease. Default 120 s (renewed every 40 s). */
  leaseSeconds?: number;
}) {
  const { cluster, jobs, reporter, log, thresholds } = deps;
  const leaseSeconds = deps.leaseSeconds ?? 120;
  const inFlight = new Set<Promise<unknown>>();

  /** Every replica and model version the cluster serves now, narrowed by the request. */
  async function plan(request: RebuildRequest = {}): Promise<RebuildTarget[]> {
    const stats = await cluster.stats();
    const targets: RebuildTarget[] = [];
    for (const shard of stats.shards) {
      if (request.shards && !request.shards.includes(shard.index)) continue;
      for (const replica of shard.replicas) {
        for (const model of replica.stats?.modelVersions ?? []) {
          if (request.modelVersions && !request.modelVersions.includes(model.modelVersion)) continue;
          targets.push({ shard: shard.index, replica: replica.name, modelVersion: model.modelVersion });
        }
      }
    }
    return targets;
  }

  /** Replicas whose hot tier or tombstones passed the thresholds and that are not rebuilding. */
  async function due(): Promise<RebuildTarget[]> {
    const stats = await cluster.stats();
    const targets: RebuildTarget[] = [];
    for (const shard of stats.shards) {
      for (const replica of shard.replicas) {
        for (const m of replica.stats?.modelVersions ?? []) {
          if (m.rebuilding || m.state !== 'ready') continue;
          const reason = rebuildReason(
            {
              hotVectors: m.hot.vectors,
              mainVectors: m.main?.vectors ?? 0,
              tombstones: m.main?.tombstones ?? 0,
            },
            thresholds,
          );
          if (reason)
            targets.push({ shard: shard.index, replica: replica.name, modelVersion: m.modelVersion, reason });
        }
      }
    }
    return targets;
  }

  async function rebuildTargets(targets: RebuildTarget[]): Promise<RebuildSummary> {
    const wanted = new Set(targets.map((t) => key(t.shard, t.replica, t.modelVersion)));
    const summary: RebuildSummary = { rebuilt: 0, failed: 0, skipped: 0, replicas: [] };
    for (const modelVersion of new Set(targets.map((t) => t.modelVersion))) {
      await cluster.rebuild(modelVersion, {
        only: (shard, replica) => wanted.has(key(shard, replica, modelVersion)),
        onReport: (report) => {
          summary.replicas.push({ ...report, modelVersion });
          if (report.outcome) summary.rebuilt++;
          else if (report.skipped) summary.skipped++;
          else summary.failed++;
          log.info('replica rebuild done', {
            modelVersion,
            shard: report.shard,
            replica: report.replica,
            ...(report.outcome
              ? { durationMs: report.outcome.durationMs, vectors: report.outcome.vectors }
              : {}),
            ...(report.error ? { error: report.error } : {}),
            ...(report.skipped ? { skipped: report.skipped } : {}),
          });
        },
      });
    }
    return summary;
  }

  const resultOf = (summary: RebuildSummary): JobResult => {
    if (summary.failed > 0) {
      const first = summary.replicas.find((r) => r.error);
      throw new Error(
        `${summary.failed} of ${summary.replicas.length} replica rebuilds failed (shard ${first?.shard} ${first?.replica}: ${first?.error})`,
      );
    }
    return {
      outcome: summary.rebuilt === 0 && summary.replicas.length > 0 ? 'skipped' : 'ok',
      details: { rebuilt: summary.rebuilt, skipped: summary.skipped, replicas: summary.replicas },
    };
  };

  /**
   * Starts a rebuild of `targets` and answers once it has started (the lease taken, the run
   * recorded) or could not start (another run holds the lease). `done` settles when it has ended,
   * been recorded and let go of the lease.
   */
  function startTargets(trigger: JobTrigger, targets: RebuildTarget[]): Promise<StartedRebuild> {
    return new Promise((resolve, reject) => {
      let summary: Promise<RebuildSummary> | null = null;
      const whole = runExclusive(
        jobs,
        { name: REBUILD_LEASE, owner: reporter.owner, seconds: leaseSeconds, log },
        () =>
          reporter.run(
            JOBS.rebuild,
            trigger,
            async (run) => {
              const current = rebuildTargets(targets);
              summary = current;
              // settles once the run is recorded and the lease released, with what it did
              const done = whole.then(
                () => current,
                () => current,
              );
              resolve({ started: true, run, targets, done });
              return resultOf(await summary);
            },
            { targets: targets.length },
          ),
      );
      whole.then(
        (result) => {
          if (!result.ran) resolve({ started: false, holder: result.holder, targets });
        },
        (error) => {
          // after the start the failure is the run's (recorded and logged); before it, the caller's
          if (!summary) reject(error);
        },
      );
      const tracked = whole.catch(() => undefined).finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
    });
  }

  return {
    plan,
    due,
    /** An admin's rebuild (Mutation.rebuildShards, `pixelfind rebuild`): starts it and answers. */
    async start(request: RebuildRequest = {}, trigger: JobTrigger = 'demand'): Promise<StartedRebuild> {
      return startTargets(trigger, await plan(request));
    },
    /** The nightly schedule's body: every replica, waited for; reports itself (a run already going is a skipped run). */
    async runScheduled(): Promise<JobResult> {
      const started = await startTargets('schedule', await plan());
      if (!started.started) {
        const details = { reason: `a rebuild is running in ${started.holder}` };
        await reporter.record(JOBS.rebuild, 'schedule', 'skipped', 0, details);
        return { outcome: 'skipped', details };
      }
      const summary = await started.done.catch(() => null);
      return {
        details: {
          runId: started.run.id,
          ...(summary ? { rebuilt: summary.rebuilt, failed: summary.failed } : {}),
        },
      };
    },
    /** The threshold check's body: rebuilds the replicas that are due, one at a time. */
    async runThresholdCheck(): Promise<JobResult> {
      const targets = await due();
      if (targets.length === 0) return { outcome: 'skipped', details: { due: 0 } };
      const started = await startTargets('threshold', targets);
      if (!started.started)
        return {
          outcome: 'skipped',
          details: { due: targets.length, reason: `a rebuild is running in ${started.holder}` },
        };
      await started.done.catch(() => null);
      return { details: { due: targets.length, runId: started.run.id, targets } };
    },
    /** Waits for runs this process started (shutdown, tests). */
    async settled(): Promise<void> {
      await Promise.allSettled([...inFlight]);
    },
  };
}
export type RebuildService = ReturnType<typeof createRebuildService>;
