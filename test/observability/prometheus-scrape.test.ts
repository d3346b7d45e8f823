import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../api/src/db/migrate.ts';
import { makeColourImage } from '../fixtures/images/make-images.ts';
import { createTestDatabase, postgresAvailable } from '../support/backends.ts';
import { databaseUrlOf, freePort, spawnTsx, startShardServer } from '../support/processes.ts';
import { prometheusBinary } from '../support/prometheus-binaries.ts';
import { uploadForm } from '../support/upload-form.ts';

const prometheus = prometheusBinary('prometheus');
const SHARD_TOKEN = 'shard-token-for-the-prometheus-test-0123456789';
const METRICS_TOKEN = 'metrics-token-for-the-prometheus-test';
const RULES_DIR = path.resolve('infra/prometheus');

interface Target {
  labels: { job: string; instance: string };
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** Polls `probe` every 250 ms until it returns a value, or throws after `ms` with `what`. */
async function until<T>(what: string, ms: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== null) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

const readyAt = (url: string) => async () => ((await fetch(url).catch(() => null))?.ok ? true : null);

/**
 * Cluster mode as deployed, watched by a real Prometheus (Debian's package): an API process, a
 * worker process and two shard servers, each scraped on its /metrics with the token its rule
 * asks for (METRICS_TOKEN for the API and the worker, SHARD_AUTH_TOKEN for shard servers), and
 * the alert and recording rules of infra/prometheus loaded. Checked through Prometheus' HTTP API.
 */
describe.runIf(postgresAvailable && prometheus !== null)('a real Prometheus scrapes every process', () => {
  const children: ChildProcess[] = [];
  let dir = '';
  let dropDatabase: (() => Promise<void>) | null = null;
  let promUrl = '';
  let apiUrl = '';
  const stderr = new Map<string, string>();

  const keep = (name: string, child: ChildProcess) => {
    children.push(child);
    let text = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      text = (text + chunk.toString()).slice(-4000);
      stderr.set(name, text);
    });
    return child;
  };
  const query = async (promql: string): Promise<Sample[]> => {
    const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as { status: string; data: { result: Sample[] }; error?: string };
    if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
    return body.data.result;
  };
  /** Waits until `promql` answers at least `n` series (a scrape or rule evaluation may be one interval away). */
  const series = (promql: string, n = 1) =>
    until(`${n} series of ${promql}`, 20_000, async () => {
      const result = await query(promql);
      return result.length >= n ? result : null;
    });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pixelfind-prometheus-'));
    const database = await createTestDatabase({ prefix: 'pf_prom', max: 2 });
    dropDatabase = database.drop;
    // migrated before anything starts: shard servers load from the embeddings table
    await migrate(database.db);
    const databaseUrl = await databaseUrlOf(database);
    const [shard0, shard1, apiPort, workerPort, promPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const common = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      SHARD_AUTH_TOKEN: SHARD_TOKEN,
      LOG_LEVEL: 'warn',
    };
    const cluster = {
      ...common,
      PIXELFIND_MODE: 'cluster',
      PIXELFIND_CLUSTER_INCOMPLETE_OK: 'prometheus test: no Redis needed',
      PIXELFIND_MODEL: 'tiny-clip-v1',
      SHARDS: `http://127.0.0.1:${shard0},http://127.0.0.1:${shard1}`,
      SHARD_DEADLINE_MS: '2000',
      HOST: '127.0.0.1',
      METRICS_TOKEN,
      ALLOW_ANONYMOUS_UPLOADS: 'true',
      // local blobs (no S3 here): the API and the worker share the directory, as a bucket
      DATA_DIR: path.join(dir, 'node'),
    };
    apiUrl = `http://127.0.0.1:${apiPort}`;
    keep('api', spawnTsx('api/src/main.ts', { ...cluster, PORT: String(apiPort) }));
    await Promise.all(
      [shard0, shard1].map(async (port, index) =>
        keep(
          `shard-${index}`,
          await startShardServer(
            {
              ...common,
              SHARD_ID: String(index),
              SHARD_COUNT: '2',
              PORT: String(port),
              DATA_DIR: path.join(dir, `shard-${index}`),
              MODEL_VERSIONS: 'tiny-clip-v1:64',
              CATCH_UP_INTERVAL_MS: '500',
            },
            port,
          ),
        ),
      ),
    );
    keep(
      'worker',
      spawnTsx('api/src/worker-main.ts', {
        ...cluster,
        WORKER_PORT: String(workerPort),
      }),
    );
    await until('the API to be ready', 90_000, readyAt(`${apiUrl}/readyz`));
    await until('the worker to be ready', 90_000, readyAt(`http://127.0.0.1:${workerPort}/readyz`));

    // one upload (the worker indexes it: freshness is observed there) and one search
    const form = uploadForm(
      await makeColourImage({ colour: 'red', size: 32 }),
      {},
      {
        type: 'image/jpeg',
        filename: 'red.jpg',
      },
    );
    const uploaded = await fetch(`${apiUrl}/graphql`, {
      method: 'POST',
      headers: { 'x-graphql-yoga-csrf': '1' },
      body: form,
    });
    const answer = (await uploaded.json()) as { errors?: unknown };
    expect(uploaded.status, JSON.stringify(answer)).toBe(200);
    expect(answer.errors).toBeUndefined();
    await fetch(
      `${apiUrl}/graphql?query=${encodeURIComponent('{ search(input: { text: "red" }) { hits { score } } }')}`,
    );

    const rules = (await readdir(RULES_DIR)).filter((f) => f.endsWith('.rules.yml'));
    const job = (name: string, targets: number[], token: string) =>
      [
        `  - job_name: ${name}`,
        '    authorization:',
        `      credentials: ${token}`,
        '    static_configs:',
        `      - targets: [${targets.map((p) => `'127.0.0.1:${p}'`).join(', ')}]`,
      ].join('\n');
    await writeFile(
      path.join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 900ms',
        '  evaluation_interval: 1s',
        'rule_files:',
        ...rules.map((f) => `  - ${path.join(RULES_DIR, f)}`),
        'scrape_configs:',
        job('pixelfind-api', [apiPort], METRICS_TOKEN),
        job('pixelfind-worker', [workerPort], METRICS_TOKEN),
        job('pixelfind-shard', [shard0, shard1], SHARD_TOKEN),
        '',
      ].join('\n'),
    );
    promUrl = `http://127.0.0.1:${promPort}`;
    keep(
      'prometheus',
      spawn(
        prometheus!,
        [
          `--config.file=${path.join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      ),
    );
    await until('Prometheus to be ready', 30_000, readyAt(`${promUrl}/-/ready`));
  }, 240_000);

  afterAll(async () => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const exited = once(child, 'exit');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
    await dropDatabase?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('finds every target up: API, worker and two shard servers, each scraped with its token', async () => {
    const targets = await until('every target up', 30_000, async () => {
      const response = await fetch(`${promUrl}/api/v1/targets?state=active`);
      const body = (await response.json()) as { data: { activeTargets: Target[] } };
      const active = body.data.activeTargets;
      return active.length === 4 && active.every((t) => t.health === 'up') ? active : null;
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n${[...stderr].map(([k, v]) => `${k}: ${v}`).join('\n')}`);
    });
    expect(targets.map((t) => t.labels.job).sort()).toEqual([
      'pixelfind-api',
      'pixelfind-shard',
      'pixelfind-shard',
      'pixelfind-worker',
    ]);
    const up = await series('up == 1', 4);
    expect(up).toHaveLength(4);
  });

  it('holds the key series of each process kind', async () => {
    for (const job of ['pixelfind-api', 'pixelfind-worker', 'pixelfind-shard']) {
      await series(`process_resident_memory_bytes{job="${job}"}`);
      await series(`pixelfind_http_request_duration_seconds_count{job="${job}",route="/readyz"}`);
    }
    // the shards' series come from each shard server, labelled with its shard number
    const vectors = await series('pixelfind_shard_vectors{job="pixelfind-shard",tier="hot"}', 2);
    expect(new Set(vectors.map((s) => s.metric.shard))).toEqual(new Set(['0', '1']));
    await series('pixelfind_shard_ready{job="pixelfind-shard"} == 1', 2);
    await series('pixelfind_shard_replica_lag_seq{job="pixelfind-shard"}', 2);
    await series('pixelfind_shard_native_calls_in_flight{job="pixelfind-shard",op="search"}', 2);
    // the worker indexed the upload: freshness is exported from the process that observes it
    const fresh = await until('the worker to export the upload it indexed', 30_000, async () => {
      const result = await query('pixelfind_upload_to_indexed_seconds_count{job="pixelfind-worker"} >= 1');
      return result.length > 0 ? result : null;
    }).catch(async (error: Error) => {
      const jobs = await query('pixelfind_index_jobs or pixelfind_index_jobs_settled_total');
      throw new Error(
        `${error.message}; jobs: ${JSON.stringify(jobs.map((s) => [s.metric, s.value[1]]))}; worker: ${stderr.get('worker') ?? ''}`,
      );
    });
    expect(Number(fresh[0]!.value[1])).toBeGreaterThanOrEqual(1);
    await series('pixelfind_index_jobs_settled_total{job="pixelfind-worker",outcome="indexed"} >= 1');
    // the API: searches, engagement, the cluster as its router sees it
    await series(
      'pixelfind_engagement_searches_total{job="pixelfind-api",model_version="tiny-clip-v1"} >= 1',
    );
    await series('pixelfind_cluster_replicas{job="pixelfind-api",status="ok"} == 1', 2);
    await series('pixelfind_index_jobs{job="pixelfind-api",state="queued"}');
  });

  it('loads the alert and recording rules and evaluates them without error', async () => {
    const body = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
      data: { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const rules = body.data.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(20);
    await series('pixelfind:index_jobs_queued:max');
    const evaluated = await until('every rule evaluated once', 20_000, async () => {
      const again = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as typeof body;
      const all = again.data.groups.flatMap((g) => g.rules);
      return all.every((r) => r.health === 'ok') ? all : null;
    });
    expect(evaluated.filter((r) => r.lastError)).toEqual([]);
    // nothing is wrong with this cluster: no alert fires
    const alerts = (await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as {
      data: { alerts: { labels: { alertname: string }; state: string }[] };
    };
    expect(alerts.data.alerts.filter((a) => a.state === 'firing').map((a) => a.labels.alertname)).toEqual([]);
  });
});
