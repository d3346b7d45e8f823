import { authorize } from '../auth/authorize.ts';
import { builder } from '../builder.ts';
import { badInput } from '../errors.ts';
import type { RecallMeasurement } from '../quality/recall-canary.ts';
import { JOB_NAMES, JOBS } from './job-names.ts';
import type { JobOutcome, JobRunRecord, JobTrigger } from './jobs.repository.ts';
import type { RebuildTarget, StartedRebuild } from './rebuild.service.ts';

/** Admin GraphQL for background jobs: their last runs, the recall canary, on-demand rebuilds. */

const JobOutcomeEnum = builder.enumType('JobOutcome', {
  description: 'How a background job run ended.',
  values: {
    RUNNING: { value: 'running', description: 'Not finished yet.' },
    OK: { value: 'ok', description: 'Did its work.' },
    FAILED: {
      value: 'failed',
      description: 'Failed; `error` says why, and the process logged it at level error.',
    },
    SKIPPED: { value: 'skipped', description: 'Nothing to do, or another run held the job.' },
  } satisfies Record<string, { value: JobOutcome; description: string }>,
});

const JobTriggerEnum = builder.enumType('JobTrigger', {
  description: 'What started a run.',
  values: {
    SCHEDULE: { value: 'schedule', description: 'Its cron schedule.' },
    THRESHOLD: {
      value: 'threshold',
      description: 'A replica passed a rebuild threshold (hot tier, tombstones).',
    },
    DEMAND: { value: 'demand', description: 'An admin (rebuildShards, `pixelfind rebuild`).' },
    INTERVAL: { value: 'interval', description: 'A job that runs every few seconds (stats aggregation).' },
  } satisfies Record<string, { value: JobTrigger; description: string }>,
});

const JobRunRef = builder.objectRef<JobRunRecord>('JobRun').implement({
  description: 'One run of a background job.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The run, unique across jobs.' }),
    job: t.exposeString('job', { description: 'The job that ran (rebuild, recall-canary, reindex, ...).' }),
    trigger: t.field({
      type: JobTriggerEnum,
      description: 'What started the run.',
      resolve: (r) => r.trigger,
    }),
    owner: t.exposeString('owner', { description: 'The process that ran it (host:pid).' }),
    outcome: t.field({
      type: JobOutcomeEnum,
      description: 'How the run ended (RUNNING until it does).',
      resolve: (r) => r.outcome,
    }),
    startedAt: t.field({
      type: 'DateTime',
      description: 'When the run started.',
      resolve: (r) => r.started_at,
    }),
    finishedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the run ended; null while it runs.',
      resolve: (r) => r.finished_at,
    }),
    durationSeconds: t.float({
      nullable: true,
      description: 'How long the run took; null while it runs.',
      resolve: (r) => (r.duration_ms === null ? null : r.duration_ms / 1000),
    }),
    error: t.exposeString('error', { nullable: true, description: 'Why a failed run failed.' }),
    details: t.string({
      description:
        'What the run did, as JSON (per job: replicas rebuilt, canary measurements, drift, counts).',
      resolve: (r) => JSON.stringify(r.details ?? {}),
    }),
  }),
});

interface BackgroundJobView {
  name: string;
  schedule: string | null;
  nextRunAt: Date | null;
  runs: JobRunRecord[];
}

const BackgroundJobRef = builder.objectRef<BackgroundJobView>('BackgroundJob').implement({
  description: 'A background job and its last runs, newest first.',
  fields: (t) => ({
    name: t.exposeString('name', {
      description: 'The job (rebuild, rebuild-check, recall-canary, drift, stats-aggregation, reindex).',
    }),
    schedule: t.exposeString('schedule', {
      nullable: true,
      description:
        'Its cron expression (UTC), an interval, or null when it is not scheduled in this process.',
    }),
    nextRunAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'The next scheduled run; null for a job without a schedule here.',
      resolve: (j) => j.nextRunAt,
    }),
    lastRun: t.field({
      type: JobRunRef,
      nullable: true,
      description: 'The newest run; null before the first.',
      resolve: (j) => j.runs[0] ?? null,
    }),
    runs: t.field({
      type: [JobRunRef],
      description: 'The newest runs, newest first.',
      resolve: (j) => j.runs,
    }),
  }),
});

const RecallMeasurementRef = builder.objectRef<RecallMeasurement>('RecallMeasurement').implement({
  description:
    'recall@10 of the serving path against exact search, for one model version, tier kind and query kind.',
  fields: (t) => ({
    modelVersion: t.exposeString('modelVersion', { description: 'The model version measured.' }),
    tier: t.exposeString('tier', {
      description: 'Main-tier kind of the shards measured (flat, hnsw, ivfpq; hot: no main tier), or all.',
    }),
    queryKind: t.exposeString('queryKind', { description: 'text or image.' }),
    queries: t.exposeInt('queries', { description: 'Queries measured.' }),
    recallAt10: t.exposeFloat('recallAt10', {
      description: 'Recall@10 of the live serving path against an exact search of the same vectors.',
    }),
  }),
});

const RecallCanaryRunRef = builder.objectRef<JobRunRecord>('RecallCanaryRun').implement({
  description: 'One recall canary run and what it measured.',
  fields: (t) => ({
    run: t.field({ type: JobRunRef, description: 'The run.', resolve: (r) => r }),
    measurements: t.field({
      type: [RecallMeasurementRef],
      description: 'Recall per model version, tier and query kind.',
      resolve: (r) => (r.details?.measurements as RecallMeasurement[] | undefined) ?? [],
    }),
  }),
});

const RebuildTargetRef = builder.objectRef<RebuildTarget>('RebuildTarget').implement({
  description: 'One replica main tier a rebuild covers.',
  fields: (t) => ({
    shard: t.exposeInt('shard', { description: 'The shard index.' }),
    replica: t.exposeString('replica', { description: 'The replica (in-process:<i> or its URL).' }),
    modelVersion: t.exposeString('modelVersion', {
      description: 'The model version whose main tier is rebuilt.',
    }),
  }),
});

const RebuildShardsPayload = builder
  .objectRef<StartedRebuild & { runningIn?: string | null }>('RebuildShardsPayload')
  .implement({
    description:
      'What rebuildShards started: the run (follow it in backgroundJobs(job: "rebuild")) and the replicas it rebuilds, one at a time.',
    fields: (t) => ({
      started: t.boolean({
        description: 'False when a rebuild is already running somewhere; `runningIn` says where.',
        resolve: (p) => p.started,
      }),
      run: t.field({
        type: JobRunRef,
        nullable: true,
        description: 'The rebuild run started; null when none was.',
        resolve: (p) => (p.started ? p.run : null),
      }),
      targets: t.field({
        type: [RebuildTargetRef],
        description: 'The replicas and model versions it rebuilds, in order.',
        resolve: (p) => p.targets,
      }),
      runningIn: t.string({
        nullable: true,
        description: 'The process holding the rebuild lease when started is false.',
        resolve: (p) => (p.started ? null : p.holder),
      }),
    }),
  });

const RebuildShardsInput = builder.inputType('RebuildShardsInput', {
  description: 'Which main tiers to rebuild; both default to all.',
  fields: (t) => ({
    modelVersions: t.stringList({ required: false, description: 'Only these model versions.' }),
    shards: t.intList({ required: false, description: 'Only these shard indexes.' }),
  }),
});

const limitOf = (value: number | null | undefined, fallback: number) => {
  const limit = value ?? fallback;
  if (!Number.isInteger(limit) || limit < 1 || limit > 50) throw badInput('Expected limit from 1 to 50');
  return limit;
};

builder.queryFields((t) => ({
  backgroundJobs: t.field({
    type: [BackgroundJobRef],
    description:
      'Admins: every background job (rebuild, rebuild-check, recall-canary, drift, stats-aggregation, reindex) with its last runs, newest first.',
    args: {
      job: t.arg.string({ required: false, description: 'Only this job.' }),
      limit: t.arg.int({
        required: false,
        defaultValue: 5,
        description: 'Runs per job, 1 to 50. Default 5.',
      }),
    },
    resolve: async (_root, args, ctx) => {
      authorize(ctx.caller, 'admin', ctx.services.policy);
      const { jobs } = ctx.services;
      const runs = await jobs.repository.lastRuns({ job: args.job ?? null, limit: limitOf(args.limit, 5) });
      const names = new Set<string>([
        ...JOB_NAMES,
        ...Object.keys(jobs.schedules),
        ...runs.map((r) => r.job),
      ]);
      return [...names]
        .filter((name) => !args.job || name === args.job)
        .sort()
        .map((name) => ({
          name,
          schedule: jobs.schedules[name] ?? null,
          nextRunAt: jobs.scheduler.nextRun(name),
          runs: runs.filter((r) => r.job === name),
        }));
    },
  }),
  recallCanaryRuns: t.field({
    type: [RecallCanaryRunRef],
    description:
      'Admins: the last recall canary runs with their recall@10 per model version, tier and query kind.',
    args: { limit: t.arg.int({ required: false, defaultValue: 10, description: '1 to 50. Default 10.' }) },
    resolve: (_root, args, ctx) => {
      authorize(ctx.caller, 'admin', ctx.services.policy);
      return ctx.services.jobs.repository.lastRuns({
        job: JOBS.recallCanary,
        limit: limitOf(args.limit, 10),
      });
    },
  }),
}));

builder.mutationFields((t) => ({
  rebuildShards: t.field({
    type: RebuildShardsPayload,
    description:
      'Admins: starts rebuilding main tiers from the record, one replica at a time, and answers once it has started. One rebuild runs in the cluster at a time.',
    args: {
      input: t.arg({
        type: RebuildShardsInput,
        required: false,
        description: 'Which model versions and shards; all when omitted.',
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      authorize(ctx.caller, 'admin', ctx.services.policy);
      const started = await ctx.services.jobs.rebuild.start({
        modelVersions: input?.modelVersions ?? null,
        shards: input?.shards ?? null,
      });
      if (started.started) {
        // its end is the run's business (job_runs, metrics, error log), not this request's
        started.done.catch(() => {});
      }
      return started;
    },
  }),
}));
