import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { clusterCoreEnv, shardServerEnv, shardsSetting } from '../../infra/cluster-local/topology.ts';
import type { Backend } from './backends.ts';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './backends.ts';
import type { TestApp } from './test-app.ts';

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The URL of a Postgres backend's own database, for the DATABASE_URL of a spawned process. */
export async function databaseUrlOf(backend: Pick<Backend, 'db'>): Promise<string> {
  const { rows } = await backend.db.query<{ d: string }>('SELECT current_database() AS d');
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${rows[0]!.d}`;
  return url.toString();
}

/**
 * Runs a TypeScript entry point (`api/src/worker-main.ts`, `search-cluster/src/server/main.ts`)
 * as its own Node process through tsx, after any `preload` modules; stderr is piped.
 */
export function spawnTsx(
  entry: string,
  env: NodeJS.ProcessEnv,
  options: { preload?: string[]; stdout?: 'ignore' | 'pipe' } = {},
): ChildProcess {
  const preload = (options.preload ?? []).flatMap((module) => ['--import', module]);
  const stdio: StdioOptions = ['ignore', options.stdout ?? 'ignore', 'pipe'];
  return spawn(process.execPath, ['--import', 'tsx', ...preload, entry], { env, stdio });
}

/**
 * The environment of an indexing worker process (`api/src/worker-main.ts`) over a Postgres
 * test app's database: cluster mode without Redis or shard servers (`why` says so in the override), the
 * test app's DATA_DIR, and `extra` settings on top.
 */
export async function workerProcessEnv(
  t: TestApp,
  why: string,
  extra: Record<string, string> = {},
): Promise<NodeJS.ProcessEnv> {
  return {
    ...process.env,
    PIXELFIND_MODE: 'cluster',
    PIXELFIND_CLUSTER_INCOMPLETE_OK: why,
    DATABASE_URL: await databaseUrlOf(t.services),
    DATA_DIR: t.dataDir,
    // any free port for the health and metrics listener: test files run side by side
    WORKER_PORT: '0',
    ...extra,
  };
}

/** For a describe block: the child processes pushed here are SIGKILLed after it (those still running). */
export function killedAfterAll(): ChildProcess[] {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return children;
}

/** Starts a shard server process with `env` and waits (up to a minute) until its /readyz says ok. */
export async function startShardServer(env: NodeJS.ProcessEnv, port: number): Promise<ChildProcess> {
  const child = spawnTsx('search-cluster/src/server/main.ts', env);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
    if (ready?.ok && ((await ready.json()) as { status: string }).status === 'ok') return child;
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`shard server on port ${port} did not become healthy (env SHARD_ID=${env.SHARD_ID})`);
}

/** Shard server processes for one test file: their ports, and each one's process while it runs. */
export interface TestShards {
  ports: number[];
  /** The shard servers' URLs, shard 0 first (one replica each). */
  urls: string[];
  children: (ChildProcess | null)[];
  /** (Re)starts shard `index` on its port over its DATA_DIR, and waits until it is ready. */
  start(index: number): Promise<ChildProcess>;
  /** The settings of an API or worker in cluster mode over these shards (one replica each). */
  coreEnv(): Record<string, string>;
  /** Kills every shard server still running and removes their data. */
  stop(): Promise<void>;
}

/**
 * `count` shard server processes of tiny-clip-v1 over a Postgres backend's database (the source
 * of record), each on a free port with its own DATA_DIR under a new temporary folder, `env` on top.
 */
export async function startTestShards(
  backend: Pick<Backend, 'db'>,
  options: { count?: number; env?: Record<string, string> } = {},
): Promise<TestShards> {
  const count = options.count ?? 2;
  const databaseUrl = await databaseUrlOf(backend);
  const dir = await mkdtemp(path.join(tmpdir(), 'pixelfind-shards-'));
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  const children: (ChildProcess | null)[] = ports.map(() => null);
  const start = async (index: number) => {
    const port = ports[index]!;
    const env = shardServerEnv({
      shardId: index,
      shardCount: count,
      port,
      dataDir: path.join(dir, `shard-${index}`),
      modelVersions: 'tiny-clip-v1:64',
      databaseUrl,
    });
    const child = await startShardServer({ ...process.env, ...env, ...options.env }, port);
    children[index] = child;
    return child;
  };
  const shards: TestShards = {
    ports,
    urls: ports.map((p) => `http://127.0.0.1:${p}`),
    children,
    start,
    coreEnv: () =>
      clusterCoreEnv({
        databaseUrl,
        redisUrl: TEST_REDIS_URL,
        shards: shardsSetting(shards.urls.map((url) => [url])),
        model: 'tiny-clip-v1',
      }),
    async stop() {
      for (const child of children) child?.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(ports.map((_, index) => start(index)));
  } catch (error) {
    await shards.stop();
    throw error;
  }
  return shards;
}
