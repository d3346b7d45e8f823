import { Cron } from 'croner';
import type { Logger } from '../../../search-cluster/src/index.ts';
import type { JobReporter, JobResult } from './job-reporter.ts';
import type { JobsRepository } from './jobs.repository.ts';
import { runExclusive } from './lease.ts';

export interface ScheduledJob {
  /** The job's name in job_runs, metrics and the lease. */
  name: string;
  /** A cron expression (croner syntax, 5 or 6 fields, UTC). */
  cron: string;
  /** How long a run may go without renewing its lease before another process may take it. Default 300 s. */
  leaseSeconds?: number;
  run(): Promise<JobResult | undefined>;
  /** False when the body reports its own runs (the rebuild service does). Default true. */
  reported?: boolean;
}

export type TickOutcome = 'ran' | 'failed' | 'held-elsewhere';

/** Longest single timer: a later slot is reached by re-arming (setTimeout caps at ~24.8 days). */
const MAX_TIMER_MS = 6 * 3_600_000;

/**
 * Runs jobs on cron schedules, in every process that starts it, while only one process runs each
 * slot: a tick takes the job's lease with the slot's time (leases.slot), so the processes that
 * tick for the same slot race for one row and one wins. Every run is reported (job_runs, metrics,
 * error log on failure).
 */
export function createScheduler(deps: { jobs: JobsRepository; reporter: JobReporter; log: Logger }) {
  const { jobs, reporter, log } = deps;
  const entries = new Map<string, { job: ScheduledJob; cron: Cron; timer: NodeJS.Timeout | null }>();
  const running = new Set<Promise<unknown>>();
  let started = false;

  async function tick(name: string, slot: Date): Promise<TickOutcome> {
    const entry = entries.get(name);
    if (!entry) throw new Error(`No scheduled job ${name}`);
    const { job } = entry;
    try {
      const result = await runExclusive(
        jobs,
        { name: job.name, owner: reporter.owner, seconds: job.leaseSeconds ?? 300, slot, log },
        () =>
          job.reported === false
            ? job.run()
            : reporter.run(job.name, 'schedule', () => job.run(), { slot: slot.toISOString() }),
      );
      return result.ran ? 'ran' : 'held-elsewhere';
    } catch (error) {
      // reported (job_runs, metrics, error log) by the reporter; the next slot tries again
      if (job.reported === false) log.error('background job failed', { job: job.name, error: String(error) });
      return 'failed';
    }
  }

  function arm(name: string): void {
    const entry = entries.get(name);
    if (!entry || !started) return;
    const next = entry.cron.nextRun(new Date());
    if (!next) return;
    const wait = next.getTime() - Date.now();
    entry.timer = setTimeout(
      () => {
        entry.timer = null;
        if (wait > MAX_TIMER_MS) return arm(name);
        const run = tick(name, next).finally(() => {
          running.delete(run);
          arm(name);
        });
        running.add(run);
      },
      Math.min(Math.max(0, wait), MAX_TIMER_MS),
    );
    entry.timer.unref();
  }

  return {
    /** Adds a job; throws on a bad cron expression (the config checked it already). */
    add(job: ScheduledJob): void {
      entries.set(job.name, {
        job,
        cron: new Cron(job.cron, { paused: true, timezone: 'UTC' }),
        timer: null,
      });
      if (started) arm(job.name);
    },
    /** The next slot of a job after `from` (for the admin query and tests). */
    nextRun(name: string, from = new Date()): Date | null {
      return entries.get(name)?.cron.nextRun(from) ?? null;
    },
    /** The scheduled jobs: name and cron expression. */
    list(): { name: string; cron: string }[] {
      return [...entries.values()].map(({ job }) => ({ name: job.name, cron: job.cron }));
    },
    /** One slot's run now (what the timer calls; tests call it with the same slot from two processes). */
    tick,
    start(): void {
      started = true;
      for (const name of entries.keys()) arm(name);
    },
    /** Stops the timers and waits for runs in progress. */
    async stop(): Promise<void> {
      started = false;
      for (const entry of entries.values()) {
        if (entry.timer) clearTimeout(entry.timer);
        entry.timer = null;
      }
      await Promise.allSettled([...running]);
    },
  };
}
export type Scheduler = ReturnType<typeof createScheduler>;
