// The cluster topology as processes on one machine: which processes, their ports and their
// environment. `npm run cluster:local` runs it (cluster.ts), test/cluster/ builds its shard
// servers from it, and infra/compose/compose.yaml mirrors it (compose.test.ts checks that).

/** The roles of the one image (`pixelfind:latest <role>`) and of the processes here. */
export type Role = 'api' | 'worker' | 'shard-server' | 'edge';

/** How a process is started: one of the package's entry points, compiled or from source. */
export type Entry = 'api' | 'worker' | 'shard-server' | 'migrate' | 'cli';

/** `dist`: the compiled tree `npm run build` (the README's set-up) writes; `tsx`: the sources. */
export type Runtime = 'dist' | 'tsx';

const ENTRIES: Record<Entry, { dist: string; tsx: string }> = {
  api: { dist: 'dist/api/src/main.js', tsx: 'api/src/main.ts' },
  worker: { dist: 'dist/api/src/worker-main.js', tsx: 'api/src/worker-main.ts' },
  'shard-server': {
    dist: 'dist/search-cluster/src/server/main.js',
    tsx: 'search-cluster/src/server/main.ts',
  },
  migrate: { dist: 'dist/api/src/cli/migrate.js', tsx: 'api/src/cli/migrate.ts' },
  cli: { dist: 'dist/api/src/cli/main.js', tsx: 'api/src/cli/main.ts' },
};

/** Node arguments that run `entry` (relative to the repository root). */
export function entryArgs(entry: Entry, runtime: Runtime): string[] {
  return runtime === 'dist' ? [ENTRIES[entry].dist] : ['--import', 'tsx', ENTRIES[entry].tsx];
}

/** The file `entry` runs, to check it exists before starting anything. */
export const entryFile = (entry: Entry, runtime: Runtime) => ENTRIES[entry][runtime];

/** The shape of the cluster. Defaults: the 2 APIs, 2 workers, 2 shards x 2 replicas. */
export interface TopologyShape {
  apis: number;
  workers: number;
  shards: number;
  replicas: number;
}
export const DEFAULT_SHAPE: TopologyShape = { apis: 2, workers: 2, shards: 2, replicas: 2 };

/** Every port the cluster listens on. */
export interface PortPlan {
  /** The edge Worker (`wrangler dev`): the one URL clients use. */
  edge: number;
  /** wrangler's inspector (its default, 9229, would collide with any other Node being debugged). */
  edgeInspector: number;
  /** The round-robin proxy in front of the APIs. */
  proxy: number;
  /** The local S3-compatible store (s3rver). */
  s3: number;
  apis: number[];
  /** Each worker's `/healthz`, `/readyz`, `/metrics` listener (WORKER_PORT). */
  workers: number[];
  /** `shards[s][r]`: replica r of shard s. */
  shards: number[][];
}

/**
 * Ports from `base` in fixed steps, so a run's URLs are predictable: edge base, inspector +1,
 * proxy +2, s3 +3, APIs +10.., shard replicas +20.. (shard-major), workers +40... Without a
 * base, `free()` picks.
 */
export async function planPorts(
  shape: TopologyShape,
  base: number | null,
  free: () => Promise<number>,
): Promise<PortPlan> {
  const at = async (offset: number) => (base === null ? free() : base + offset);
  const plan: PortPlan = {
    edge: await at(0),
    edgeInspector: await at(1),
    proxy: await at(2),
    s3: await at(3),
    apis: [],
    workers: [],
    shards: [],
  };
  for (let a = 0; a < shape.apis; a++) plan.apis.push(await at(10 + a));
  for (let w = 0; w < shape.workers; w++) plan.workers.push(await at(40 + w));
  for (let s = 0; s < shape.shards; s++) {
    const group: number[] = [];
    for (let r = 0; r < shape.replicas; r++) group.push(await at(20 + s * shape.replicas + r));
    plan.shards.push(group);
  }
  return plan;
}

/** The `SHARDS` value for replica URLs: shards separated by `,`, replicas of one shard by `|`. */
export const shardsSetting = (urls: string[][]) => urls.map((group) => group.join('|')).join(',');

/** `name:dimension`, the shard server's MODEL_VERSIONS entry for the API's model. */
export const modelVersionsSetting = (model: { name: string; dimension: number }) =>
  `${model.name}:${model.dimension}`;

/** The environment of one shard server replica. */
export function shardServerEnv(options: {
  shardId: number;
  shardCount: number;
  port: number;
  dataDir: string;
  modelVersions: string;
  databaseUrl: string;
  authToken?: string | null;
  host?: string;
}): Record<string, string> {
  return {
    SHARD_ID: String(options.shardId),
    SHARD_COUNT: String(options.shardCount),
    PORT: String(options.port),
    HOST: options.host ?? '127.0.0.1',
    DATA_DIR: options.dataDir,
    MODEL_VERSIONS: options.modelVersions,
    // the source of record: a restarted replica reloads its snapshot and refills from it
    DATABASE_URL: options.databaseUrl,
    // threshold rebuilds come from the API's rebuild check, one replica at a time
    SELF_REBUILD: 'false',
    ...(options.authToken ? { SHARD_AUTH_TOKEN: options.authToken } : {}),
  };
}

/** What the API processes and the workers share in cluster mode. */
export function clusterCoreEnv(options: {
  databaseUrl: string;
  redisUrl: string;
  /** Prefix of every Redis key of this cluster (cache and rate limits). */
  redisPrefix?: string;
  shards: string;
  model: string;
  authToken?: string | null;
  s3?: { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string; region?: string };
}): Record<string, string> {
  return {
    PIXELFIND_MODE: 'cluster',
    PIXELFIND_MODEL: options.model,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    ...(options.redisPrefix
      ? { REDIS_KEY_PREFIX: options.redisPrefix, RATE_LIMIT_PREFIX: `${options.redisPrefix}rl:` }
      : {}),
    SHARDS: options.shards,
    ...(options.authToken ? { SHARD_AUTH_TOKEN: options.authToken } : {}),
    ...(options.s3
      ? {
          S3_BUCKET: options.s3.bucket,
          S3_ENDPOINT: options.s3.endpoint,
          S3_REGION: options.s3.region ?? 'us-east-1',
          S3_ACCESS_KEY_ID: options.s3.accessKeyId,
          S3_SECRET_ACCESS_KEY: options.s3.secretAccessKey,
        }
      : {}),
  };
}

/** One process of the cluster, ready to spawn. */
export interface ProcessSpec {
  /** Unique and stable: `api-0`, `worker-1`, `shard-0-r1`, `edge`. */
  name: string;
  role: Role;
  /** Node arguments (the first is an entry file or a flag). */
  args: string[];
  env: Record<string, string>;
  /** Where it answers HTTP (readiness, metrics); null: no listener. */
  url: string | null;
}

export interface TopologyOptions {
  shape: TopologyShape;
  ports: PortPlan;
  runtime: Runtime;
  /** Per-run directory: shard snapshots, the edge's local KV, logs. */
  dir: string;
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  s3: { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string };
  model: { name: string; dimension: number };
  shardAuthToken: string;
  edgeSigningKey: string;
  metricsToken: string;
  graphiql: boolean;
}

const local = (port: number) => `http://127.0.0.1:${port}`;

/**
 * The processes of the cluster, in start order: shard replicas first (the API and workers
 * route to them), then workers and APIs, the edge last (it calls the proxy in front of the APIs).
 */
export function clusterProcesses(o: TopologyOptions): ProcessSpec[] {
  const shardUrls = o.ports.shards.map((group) => group.map(local));
  const core = clusterCoreEnv({
    databaseUrl: o.databaseUrl,
    redisUrl: o.redisUrl,
    redisPrefix: o.redisPrefix,
    shards: shardsSetting(shardUrls),
    model: o.model.name,
    authToken: o.shardAuthToken,
    s3: o.s3,
  });
  const specs: ProcessSpec[] = [];
  /** A Node process of the package listening on `port`. */
  const node = (name: string, role: Role & Entry, port: number, env: Record<string, string>) =>
    specs.push({ name, role, args: entryArgs(role, o.runtime), env, url: local(port) });
  /** An API or a worker: the cluster settings, its own DATA_DIR, the metrics token, `env` on top. */
  const coreNode = (name: string, role: 'api' | 'worker', port: number, env: Record<string, string>) =>
    node(name, role, port, {
      ...core,
      DATA_DIR: `${o.dir}/${name}`,
      HOST: '127.0.0.1',
      METRICS_TOKEN: o.metricsToken,
      ...env,
    });
  o.ports.shards.forEach((group, s) => {
    group.forEach((port, r) => {
      node(
        `shard-${s}-r${r}`,
        'shard-server',
        port,
        shardServerEnv({
          shardId: s,
          shardCount: o.shape.shards,
          port,
          dataDir: `${o.dir}/shards/shard-${s}-r${r}`,
          modelVersions: modelVersionsSetting(o.model),
          databaseUrl: o.databaseUrl,
          authToken: o.shardAuthToken,
        }),
      );
    });
  });
  o.ports.workers.forEach((port, w) => {
    coreNode(`worker-${w}`, 'worker', port, { WORKER_PORT: String(port) });
  });
  o.ports.apis.forEach((port, a) => {
    coreNode(`api-${a}`, 'api', port, {
      PORT: String(port),
      // blob URLs point at the one address clients use for the API
      PUBLIC_URL: local(o.ports.proxy),
      EDGE_SIGNING_KEY: o.edgeSigningKey,
      // the proxy sets X-Forwarded-For: budgets count the client, not the proxy
      RATE_LIMIT_TRUST_FORWARDED_FOR: 'true',
      // a loaded laptop is slower than a data centre: a late shard should be rare here
      SHARD_DEADLINE_MS: '1000',
      ...(o.graphiql ? { GRAPHIQL: 'true', GRAPHQL_INTROSPECTION: 'true' } : {}),
    });
  });
  specs.push({
    name: 'edge',
    role: 'edge',
    args: [
      'node_modules/wrangler/bin/wrangler.js',
      'dev',
      '--env',
      'local',
      '--ip',
      '127.0.0.1',
      '--port',
      String(o.ports.edge),
      '--inspector-port',
      String(o.ports.edgeInspector),
      '--persist-to',
      `${o.dir}/edge`,
      '--var',
      `ORIGIN_URL:${local(o.ports.proxy)}`,
      '--show-interactive-dev-session=false',
      '--log-level',
      'warn',
    ],
    // a secret, so not on the command line: wrangler reads required secrets from its environment
    env: { EDGE_SIGNING_KEY: o.edgeSigningKey, WRANGLER_SEND_METRICS: 'false', CI: '1' },
    url: local(o.ports.edge),
  });
  return specs;
}
