import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../api/src/cli/run.ts';
import { createHttpServer } from '../../api/src/http/http-server.ts';
import { insertEmbedded } from '../../api/src/quality/quality.test-support.ts';
import { row, unitVectors } from '../../search-cluster/src/shard/test-vectors.ts';
import { type Backend, createEmbeddedBackend } from '../support/backends.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

/**
 * The admin side of background jobs through the API: rebuildShards and `pixelfind rebuild` on
 * in-process shards, backgroundJobs with each job's runs, the recall canary's runs.
 */
describe('background jobs, admin GraphQL and CLI (single mode)', { timeout: 120_000 }, () => {
  let backend: Backend;
  let t: TestApp;
  let adminKey: string;
  let userKey: string;
  const admin = () => ({ authorization: `Bearer ${adminKey}` });

  beforeAll(async () => {
    backend = await createEmbeddedBackend();
    t = await createTestApp(backend, { STATS_EVERY_MS: '100' });
    adminKey = (await t.services.apiKeys.create('admin', 'ops')).key;
    userKey = (await t.services.apiKeys.create('user', 'ann')).key;
    // vectors of record the shards do not hold yet: a rebuild brings them in
    const { modelVersion, dimension } = t.services.encoder;
    const vectors = unitVectors(60, dimension, 5);
    for (let i = 0; i < 60; i++) await insertEmbedded(backend.db, modelVersion, row(vectors, i, dimension));
  });
  afterAll(async () => {
    await t?.close();
    await backend?.dispose();
  });

  it('refuses job queries and rebuilds to anyone but an admin', async () => {
    const anonymous = await t.gql('{ backgroundJobs { name } }');
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const user = await t.gql(
      'mutation { rebuildShards { started } }',
      {},
      { authorization: `Bearer ${userKey}` },
    );
    expect(user.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('rebuildShards starts a rebuild of every in-process shard and backgroundJobs follows it to the end', async () => {
    const { body } = await t.gql<{
      rebuildShards: { started: boolean; run: { id: string; outcome: string }; targets: { shard: number }[] };
    }>(
      'mutation { rebuildShards { started run { id outcome trigger } targets { shard replica modelVersion } } }',
      {},
      admin(),
    );
    expect(body.errors).toBeUndefined();
    const started = body.data!.rebuildShards;
    expect(started).toMatchObject({ started: true, run: { outcome: 'RUNNING', trigger: 'DEMAND' } });
    expect(started.targets.map((x) => x.shard)).toEqual([0, 1]);

    const runOf = async () => {
      const { body: jobs } = await t.gql<{
        backgroundJobs: { runs: { id: string; outcome: string; details: string }[] }[];
      }>('{ backgroundJobs(job: "rebuild") { name schedule runs { id outcome details } } }', {}, admin());
      return jobs.data!.backgroundJobs[0]!.runs.find((r) => r.id === started.run.id);
    };
    await expect.poll(async () => (await runOf())?.outcome, { timeout: 30_000 }).toBe('OK');
    const details = JSON.parse((await runOf())!.details) as {
      rebuilt: number;
      replicas: { outcome: { vectors: number } }[];
    };
    expect(details.rebuilt).toBe(2);
    expect(details.replicas.reduce((n, r) => n + r.outcome.vectors, 0)).toBe(60);
    // the shards now serve what the record holds
    const stats = await t.services.cluster.stats();
    const served = stats.shards.flatMap((s) =>
      s.replicas.map((r) => r.stats!.modelVersions[0]!.main?.vectors ?? 0),
    );
    expect(served.reduce((a, b) => a + b, 0)).toBe(60);
  });

  it('pixelfind rebuild starts one through the server and --wait follows it', async () => {
    const server = createHttpServer(t.app as never, t.services.config.http);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(['rebuild', '--wait', '--json', '--shard', '1'], {
        env: {
          PIXELFIND_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          PIXELFIND_API_KEY: adminKey,
        },
        out: (line) => out.push(line),
        err: (line) => err.push(line),
      });
      expect(err).toEqual([]);
      expect(code).toBe(0);
      const answer = JSON.parse(out.join('\n')) as {
        started: boolean;
        targets: { shard: number }[];
        result: { outcome: string };
      };
      expect(answer).toMatchObject({ started: true, targets: [{ shard: 1 }], result: { outcome: 'OK' } });
    } finally {
      server.close();
      await once(server, 'close');
    }
  });

  it('lists every job with its schedule, and the canary and stats aggregation with their runs', async () => {
    const slot = t.services.jobs.scheduler.nextRun('recall-canary')!;
    expect(await t.services.jobs.scheduler.tick('recall-canary', slot)).toBe('ran');
    // a search gives stats aggregation something to fold in
    await t.gql('{ search(input: { text: "red", limit: 3 }) { queryId } }');

    const { body } = await t.gql<{
      backgroundJobs: { name: string; schedule: string | null; lastRun: { outcome: string } | null }[];
      recallCanaryRuns: {
        run: { outcome: string };
        measurements: { tier: string; queryKind: string; recallAt10: number }[];
      }[];
    }>(
      '{ backgroundJobs { name schedule nextRunAt lastRun { outcome trigger durationSeconds } } recallCanaryRuns(limit: 1) { run { outcome } measurements { modelVersion tier queryKind queries recallAt10 } } }',
      {},
      admin(),
    );
    expect(body.errors).toBeUndefined();
    const jobs = Object.fromEntries(body.data!.backgroundJobs.map((j) => [j.name, j]));
    expect(Object.keys(jobs)).toEqual(
      expect.arrayContaining([
        'rebuild',
        'rebuild-check',
        'recall-canary',
        'drift',
        'stats-aggregation',
        'reindex',
      ]),
    );
    expect(jobs.rebuild!.schedule).toBe('0 3 * * *');
    const [canary] = body.data!.recallCanaryRuns;
    expect(canary!.run.outcome).toBe('OK');
    // Flat main tiers: the serving path is exact
    expect(canary!.measurements.find((m) => m.tier === 'all' && m.queryKind === 'image')?.recallAt10).toBe(1);

    await expect
      .poll(
        async () => {
          const { body: s } = await t.gql<{ backgroundJobs: { lastRun: { outcome: string } | null }[] }>(
            '{ backgroundJobs(job: "stats-aggregation") { lastRun { outcome } } }',
            {},
            admin(),
          );
          return s.data!.backgroundJobs[0]!.lastRun?.outcome;
        },
        { timeout: 30_000 },
      )
      .toBe('OK');
    const metrics = await t.services.metrics.registry.metrics();
    expect(metrics).toMatch(/pixelfind_job_runs_total\{job="rebuild",outcome="ok"\} 2/);
    expect(metrics).toMatch(/pixelfind_job_runs_total\{job="stats-aggregation",outcome="ok"\} \d+/);
    expect(metrics).toMatch(
      /pixelfind_recall_canary_recall_at_10\{model_version="[^"]+",tier="all",query_kind="image"\} 1/,
    );
  });
});
