import { afterEach, describe, expect, it } from 'vitest';
import {
  backends,
  createTestDatabase,
  postgresAvailable,
  TEST_DATABASE_URL,
} from '../../../test/support/backends.ts';
import type { Database } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import { createPgDatabase } from '../db/pg-database.ts';
import { jobsOf, metricValue } from './jobs.test-support.ts';
import { createScheduler } from './scheduler.ts';

const disposers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const dispose of disposers.splice(0).reverse()) await dispose();
});

/** Two "processes" over one database: on Postgres, two pools of their own; PGlite has one connection. */
async function twoProcesses(backend: (typeof backends)[number]): Promise<[Database, Database]> {
  if (backend.name !== 'postgres+redis') {
    const b = await backend.create();
    disposers.push(() => b.dispose());
    return [b.db, b.db];
  }
  const { name, db, drop } = await createTestDatabase({ prefix: 'pf_sched' });
  disposers.push(drop);
  await migrate(db);
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  const second = createPgDatabase(url.toString(), { max: 2 });
  disposers.push(() => second.close());
  return [db, second];
}

describe.each(backends)('scheduled jobs on %s', (backend) => {
  it('runs a slot once when two processes tick for it together, and the next slot again', async () => {
    const [dbA, dbB] = await twoProcesses(backend);
    const a = jobsOf(dbA, 'host-a:1');
    const b = jobsOf(dbB, 'host-b:2');
    const ran: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const make = (p: typeof a, who: string) => {
      const scheduler = createScheduler({ jobs: p.jobs, reporter: p.reporter, log: p.log });
      scheduler.add({
        name: 'nightly',
        cron: '0 3 * * *',
        run: async () => {
          ran.push(who);
          await gate;
          return { details: { who } };
        },
      });
      return scheduler;
    };
    const sa = make(a, 'a');
    const sb = make(b, 'b');
    const slot = sa.nextRun('nightly', new Date('2026-12-01T12:00:00Z'))!;
    expect(slot.toISOString()).toBe('2026-12-02T03:00:00.000Z');

    // both tick while the first is still running: the lease keeps the second out
    const first = sa.tick('nightly', slot);
    await expect.poll(() => ran.length).toBe(1);
    expect(await sb.tick('nightly', slot)).toBe('held-elsewhere');
    release();
    expect(await first).toBe('ran');
    // the lease is free again but the slot was taken: a late tick for it does not run it twice
    expect(await sb.tick('nightly', slot)).toBe('held-elsewhere');
    expect(ran).toEqual(['a']);

    // the next slot runs once more, in whichever process ticks first
    const next = sa.nextRun('nightly', slot)!;
    expect(await sb.tick('nightly', next)).toBe('ran');
    expect(await sa.tick('nightly', next)).toBe('held-elsewhere');
    expect(ran).toEqual(['a', 'b']);

    const runs = await a.jobs.lastRuns({ job: 'nightly', limit: 10 });
    expect(runs.map((r) => [r.owner, r.outcome, r.trigger])).toEqual([
      ['host-b:2', 'ok', 'schedule'],
      ['host-a:1', 'ok', 'schedule'],
    ]);
    expect(runs[1]!.details).toMatchObject({ who: 'a', slot: slot.toISOString() });
    expect(await metricValue(a.registry, 'pixelfind_job_runs_total', { job: 'nightly', outcome: 'ok' })).toBe(
      1,
    );
  });

  it('records a failed run, logs it at level error, and runs the next slot', async () => {
    const [db] = await twoProcesses(backend);
    const p = jobsOf(db, 'host-a:1');
    const scheduler = createScheduler({ jobs: p.jobs, reporter: p.reporter, log: p.log });
    let fail = true;
    scheduler.add({
      name: 'canary',
      cron: '*/30 * * * *',
      run: async () => {
        if (fail) throw new Error('shards unreachable');
        return { outcome: 'skipped' };
      },
    });
    const slot = scheduler.nextRun('canary', new Date('2026-12-01T12:00:00Z'))!;
    expect(await scheduler.tick('canary', slot)).toBe('failed');
    fail = false;
    expect(await scheduler.tick('canary', scheduler.nextRun('canary', slot)!)).toBe('ran');

    const runs = await p.jobs.lastRuns({ job: 'canary', limit: 5 });
    expect(runs.map((r) => [r.outcome, r.error])).toEqual([
      ['skipped', null],
      ['failed', 'shards unreachable'],
    ]);
    expect(p.lines.filter((l) => l.level === 'error')).toEqual([
      expect.objectContaining({
        message: 'background job failed',
        fields: expect.objectContaining({ job: 'canary' }),
      }),
    ]);
    expect(
      await metricValue(p.registry, 'pixelfind_job_runs_total', { job: 'canary', outcome: 'failed' }),
    ).toBe(1);
    expect(
      await metricValue(p.registry, 'pixelfind_job_last_run_timestamp_seconds', {
        job: 'canary',
        outcome: 'skipped',
      }),
    ).toBeGreaterThan(0);
  });

  it('keeps only the newest runs of a job', async () => {
    const [db] = await twoProcesses(backend);
    const p = jobsOf(db, 'host-a:1');
    for (let i = 0; i < 55; i++) await p.reporter.record('stats-aggregation', 'interval', 'ok', 1, { i });
    const runs = await p.jobs.lastRuns({ job: 'stats-aggregation', limit: 100 });
    expect(runs).toHaveLength(50);
    expect(runs[0]!.details).toEqual({ i: 54 });
  });
});

it.skipIf(!postgresAvailable)('a lease a dead process held is taken over once it expires', async () => {
  const { db, drop } = await createTestDatabase({ prefix: 'pf_lease' });
  disposers.push(drop);
  await migrate(db);
  const { jobs } = jobsOf(db, 'x');
  expect(await jobs.acquireLease('rebuild-run', 'dead:1', 1)).toBe(true);
  expect(await jobs.acquireLease('rebuild-run', 'live:2', 60)).toBe(false);
  // expire it in the table rather than waiting for the clock
  await db.query(`UPDATE leases SET expires_at = now() - interval '1 second' WHERE name = 'rebuild-run'`);
  expect(await jobs.acquireLease('rebuild-run', 'live:2', 60)).toBe(true);
  expect((await jobs.leaseHolder('rebuild-run'))?.owner).toBe('live:2');
});
