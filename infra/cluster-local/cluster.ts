import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { MODELS, TINY_MODEL_VERSION } from '../../api/src/encoder/registry.ts';
import { PACKAGE_ROOT } from '../../search-cluster/src/runtime/package-root.ts';
import { type RoundRobinProxy, startRoundRobinProxy } from './proxy.ts';
import { alive, type ClusterState, readState, writeState } from './state.ts';
import {
  DATABASE_NAME,
  databaseUrlFor,
  deleteRedisKeys,
  dropDatabase,
  ensureDatabase,
  S3RVER_CREDENTIALS,
  startS3,
} from './stores.ts';
import { groupAlive, Supervisor } from './supervisor.ts';
import {
  clusterProcesses,
  DEFAULT_SHAPE,
  type Entry,
  entryArgs,
  entryFile,
  planPorts,
  type Runtime,
  type TopologyShape,
} from './topology.ts';

const run = promisify(execFile);

export interface ClusterLocalOptions {
  /** Run directory: state file, logs, shard snapshots, s3rver's files. Default `data/cluster-local`. */
  dir: string;
  /** Database name on the local Postgres, and the Redis key prefix (`<name>:`). Default `pixelfind_local`. */
  name: string;
  /** A Postgres URL allowed to create databases. */
  postgresUrl: string;
  redisUrl: string;
  /** Ports from here in fixed steps (topology.ts `planPorts`); null: free ports. */
  basePort: number | null;
  runtime: Runtime;
  /** PIXELFIND_MODEL of the APIs and workers; the shard servers serve its dimension. */
  model: string;
  graphiql: boolean;
  shape?: TopologyShape;
  /** Status lines (started, ready, exited). Default: none. */
  report?: (line: string) => void;
  /** Readiness of the whole cluster must come within this. Default 5 min (2 loaded cores). */
  readyTimeoutMs?: number;
  /** Receives `stop` as soon as there is something to stop (a signal during start-up). */
  onStoppable?: (stop: () => Promise<void>) => void;
}

export const DEFAULTS = {
  dir: 'data/cluster-local',
  name: 'pixelfind_local',
  postgresUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
  redisUrl: 'redis://127.0.0.1:6379',
  model: TINY_MODEL_VERSION,
} as const;

const BUCKET = 'pixelfind';

export interface RunningCluster {
  state: ClusterState;
  supervisor: Supervisor;
  proxy: RoundRobinProxy;
  /** Stops every process (edge and proxy, then APIs and workers, then shards) and s3rver; keeps the data. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs a one-shot entry (migrate, the CLI) to completion; its output on failure. */
async function runOnce(entry: Entry, runtime: Runtime, args: string[], env: Record<string, string>) {
  try {
    const { stdout } = await run(process.execPath, [...entryArgs(entry, runtime), ...args], {
      cwd: PACKAGE_ROOT,
      env: { ...process.env, ...env },
    });
    return stdout;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${entry} ${args.join(' ')} failed:\n${stdout}${stderr}`);
  }
}

/**
 * Stops what a crashed run left behind: its supervisor when it still runs is an error (the
 * cluster is up), its children are killed by process group.
 */
async function clearStrays(previous: ClusterState | null, report: (line: string) => void) {
  if (!previous) return;
  if (previous.supervisorPid !== process.pid && alive(previous.supervisorPid)) {
    throw new Error(
      `cluster:local already runs in ${previous.dir} (pid ${previous.supervisorPid}); stop it, or run with --down`,
    );
  }
  for (const p of previous.processes) {
    if (p.pid && groupAlive(p.pid)) {
      report(`killing ${p.name} (pid ${p.pid}) left by a crashed run`);
      process.kill(-p.pid, 'SIGKILL');
    }
  }
  // wait for the groups to go (the ports they held come free)
  const deadline = Date.now() + 5000;
  while (previous.processes.some((p) => p.pid && groupAlive(p.pid)) && Date.now() < deadline)
    await sleep(100);
}

/** Starts the whole topology and returns once every process is ready. */
export async function startClusterLocal(options: ClusterLocalOptions): Promise<RunningCluster> {
  const report = options.report ?? (() => {});
  const shape = options.shape ?? DEFAULT_SHAPE;
  const dir = path.resolve(PACKAGE_ROOT, options.dir);
  const model = MODELS[options.model];
  if (!model) throw new Error(`unknown model ${options.model} (known: ${Object.keys(MODELS).join(', ')})`);
  if (!DATABASE_NAME.test(options.name)) {
    throw new Error(`--name must be a plain lower-case identifier (${DATABASE_NAME}), got ${options.name}`);
  }
  for (const entry of ['api', 'worker', 'shard-server', 'migrate', 'cli'] as const) {
    if (!existsSync(path.join(PACKAGE_ROOT, entryFile(entry, options.runtime)))) {
      throw new Error(
        `${entryFile(entry, options.runtime)} is missing: run \`npm run build\` (the set-up does), or pass --tsx to run the sources`,
      );
    }
  }
  await mkdir(dir, { recursive: true });
  const previous = await readState(dir);
  await clearStrays(previous, report);

  const ports = await planPorts(shape, options.basePort, freePort);
  const database = {
    adminUrl: options.postgresUrl,
    name: options.name,
    url: databaseUrlFor(options.postgresUrl, options.name),
  };
  const state: ClusterState = {
    version: 1,
    dir,
    supervisorPid: process.pid,
    ready: false,
    database,
    redis: { url: options.redisUrl, prefix: `${options.name}:` },
    keys: previous?.keys ?? null,
    urls: {},
    secrets: null,
    processes: [],
  };
  let writing = Promise.resolve();
  const save = () => {
    state.processes = supervisor.list().map((p) => ({
      name: p.spec.name,
      role: p.spec.role,
      pid: p.pid,
      url: p.spec.url,
      restarts: p.restarts,
    }));
    writing = writing.then(() => writeState(state)).catch(() => {});
    return writing;
  };
  const supervisor = new Supervisor({
    cwd: PACKAGE_ROOT,
    logDir: path.join(dir, 'logs'),
    env: process.env,
    report,
    onChange: () => void save(),
  });
  await save();

  let s3: Awaited<ReturnType<typeof startS3>> | null = null;
  let proxy: RoundRobinProxy | null = null;
  let stopped: Promise<void> | null = null;
  const stop = () => {
    stopped ??= (async () => {
      state.ready = false;
      await proxy?.close();
      const front = supervisor.list().filter((p) => p.spec.role !== 'shard-server');
      // clients' door first, then what serves them, the shards last
      await supervisor.stopAll([['edge'], front.map((p) => p.spec.name)]);
      await s3?.close();
      state.supervisorPid = null;
      await save();
    })();
    return stopped;
  };
  options.onStoppable?.(stop);

  try {
    if (await ensureDatabase(database.adminUrl, database.name)) report(`created database ${database.name}`);
    s3 = await startS3({ directory: path.join(dir, 's3'), port: ports.s3, bucket: BUCKET });
    report(`s3rver on ${s3.endpoint} (bucket ${BUCKET})`);
    const migrated = await runOnce('migrate', options.runtime, [], { DATABASE_URL: database.url });
    report(`migrate: ${migrated.trim()}`);
    if (!state.keys) {
      // before any API listens: the CLI writes the keys straight to the database
      const createKey = async (role: string) => {
        const out = await runOnce(
          'cli',
          options.runtime,
          ['keys', 'create', '--role', role, '--owner', 'cluster-local'],
          {
            DATABASE_URL: database.url,
            PIXELFIND_URL: `http://127.0.0.1:${ports.proxy}`,
            PIXELFIND_API_KEY: '',
          },
        );
        const key = new RegExp(`pf_${role}_\\S+`).exec(out)?.[0];
        if (!key) throw new Error(`keys create --role ${role} printed no key:\n${out}`);
        return key;
      };
      state.keys = { admin: await createKey('admin'), user: await createKey('user') };
    }

    state.secrets = {
      metricsToken: randomBytes(16).toString('hex'),
      shardAuthToken: randomBytes(32).toString('hex'),
      edgeSigningKey: randomBytes(32).toString('hex'),
    };
    const specs = clusterProcesses({
      shape,
      ports,
      runtime: options.runtime,
      dir,
      databaseUrl: database.url,
      redisUrl: options.redisUrl,
      redisPrefix: state.redis.prefix,
      s3: { endpoint: s3.endpoint, bucket: BUCKET, ...S3RVER_CREDENTIALS },
      model: { name: model.modelVersion, dimension: model.dimension },
      ...state.secrets,
      graphiql: options.graphiql,
    });
    const timeout = options.readyTimeoutMs ?? 300_000;
    // the edge takes a while to bundle; it needs nothing else to start
    const edge = specs.find((s) => s.role === 'edge')!;
    supervisor.start(edge);
    const shards = specs.filter((s) => s.role === 'shard-server');
    for (const spec of shards) supervisor.start(spec);
    await supervisor.waitReady(
      shards.map((s) => s.name),
      timeout,
    );
    const rest = specs.filter((s) => s.role === 'api' || s.role === 'worker');
    for (const spec of rest) supervisor.start(spec);
    await supervisor.waitReady(
      rest.map((s) => s.name),
      timeout,
    );
    proxy = await startRoundRobinProxy({
      backends: specs.filter((s) => s.role === 'api').map((s) => s.url!),
      port: ports.proxy,
    });
    await supervisor.waitReady([edge.name], timeout);

    state.urls = {
      edge: edge.url!,
      api: proxy.url,
      ...Object.fromEntries(specs.filter((s) => s.role === 'api').map((s) => [s.name, s.url!])),
      ...Object.fromEntries(shards.map((s) => [s.name, s.url!])),
      ...Object.fromEntries(specs.filter((s) => s.role === 'worker').map((s) => [s.name, s.url!])),
      s3: s3.endpoint,
      metrics: `${proxy.url}/metrics`,
      ...(options.graphiql ? { graphiql: `${proxy.url}/graphql` } : {}),
    };
    state.ready = true;
    await save();
    return { state, supervisor, proxy, stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/**
 * `--down`: stops a running cluster (its supervisor, then any process left), drops its
 * database, deletes its Redis keys and removes the run directory. Returns what it did.
 */
export async function downClusterLocal(options: { dir: string; report?: (line: string) => void }) {
  const report = options.report ?? (() => {});
  const dir = path.resolve(PACKAGE_ROOT, options.dir);
  const state = await readState(dir);
  if (!state) {
    report(`nothing to do: no ${path.join(dir, 'state.json')}`);
    return;
  }
  if (alive(state.supervisorPid)) {
    report(`stopping the running cluster:local (pid ${state.supervisorPid})`);
    process.kill(state.supervisorPid!, 'SIGTERM');
    const deadline = Date.now() + 60_000;
    while (alive(state.supervisorPid) && Date.now() < deadline) await sleep(200);
  }
  for (const p of state.processes) {
    if (p.pid && groupAlive(p.pid)) {
      report(`killing ${p.name} (pid ${p.pid})`);
      process.kill(-p.pid, 'SIGKILL');
    }
  }
  await dropDatabase(state.database.adminUrl, state.database.name);
  report(`dropped database ${state.database.name}`);
  const deleted = await deleteRedisKeys(state.redis.url, state.redis.prefix);
  report(`deleted ${deleted} Redis keys under ${state.redis.prefix}`);
  await rm(dir, { recursive: true, force: true });
  report(`removed ${dir}`);
}
