/**
 * `npm run cluster:local`: the cluster topology as processes on this machine (docs/cluster-local.md).
 *
 *   npm run cluster:local                       start (or restart over the data of the last run)
 *   npm run cluster:local -- --base-port 4400   predictable ports (edge 4400, API proxy 4402, ...)
 *   npm run cluster:local -- --tsx              run the sources instead of dist/ (npm run build)
 *   npm run cluster:local -- --down             stop it, drop its database, Redis keys and files
 *
 * Ctrl-C or SIGTERM stops every process and keeps the data for the next start.
 */
import { parseArgs } from 'node:util';
import { type ClusterLocalOptions, DEFAULTS, downClusterLocal, startClusterLocal } from './cluster.ts';

const USAGE = `usage: npm run cluster:local -- [options]
  --base-port <n>   ports from n (edge n, API proxy n+2, s3 n+3, APIs n+10.., shards n+20.., workers n+40..); default: free ports
  --dir <path>      run directory (state, logs, snapshots, blobs); default ${DEFAULTS.dir}
  --name <id>       database name and Redis key prefix; default ${DEFAULTS.name}
  --postgres <url>  a Postgres URL that may create databases; default ${DEFAULTS.postgresUrl}
  --redis <url>     default ${DEFAULTS.redisUrl}
  --model <name>    PIXELFIND_MODEL of the APIs and workers; default ${DEFAULTS.model}
  --tsx             run the TypeScript sources (default: the compiled dist/ that npm run build makes)
  --graphiql        GraphiQL and introspection on (cluster mode turns them off)
  --down            stop a running cluster and remove its database, Redis keys and directory`;

function options() {
  try {
    return parseArgs({
      options: {
        'base-port': { type: 'string' },
        dir: { type: 'string', default: DEFAULTS.dir },
        name: { type: 'string', default: DEFAULTS.name },
        postgres: { type: 'string', default: DEFAULTS.postgresUrl },
        redis: { type: 'string', default: DEFAULTS.redisUrl },
        model: { type: 'string', default: DEFAULTS.model },
        tsx: { type: 'boolean', default: false },
        graphiql: { type: 'boolean', default: false },
        down: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

const say = (line: string) => console.log(`[cluster:local] ${line}`);
const args = options();
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
if (args.down) {
  await downClusterLocal({ dir: args.dir, report: say });
  process.exit(0);
}
const basePort = args['base-port'] === undefined ? null : Number(args['base-port']);
if (basePort !== null && (!Number.isInteger(basePort) || basePort < 1024 || basePort > 65_000)) {
  console.error(`--base-port must be a port number between 1024 and 65000\n${USAGE}`);
  process.exit(2);
}

const config: ClusterLocalOptions = {
  dir: args.dir,
  name: args.name,
  postgresUrl: args.postgres,
  redisUrl: args.redis,
  basePort,
  runtime: args.tsx ? 'tsx' : 'dist',
  model: args.model,
  graphiql: args.graphiql,
  report: say,
};

// a signal during start-up stops what started so far
let stopping: Promise<void> | null = null;
let stopCluster: (() => Promise<void>) | null = null;
const onSignal = (signal: NodeJS.Signals) => {
  if (stopping) return;
  say(`${signal}: stopping every process (the data stays; --down removes it)`);
  stopping = (stopCluster?.() ?? Promise.resolve()).then(
    () => {
      say('stopped');
      process.exit(0);
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

say(`starting in ${config.dir} (${config.runtime === 'dist' ? 'dist/' : 'sources via tsx'})`);
try {
  const cluster = await startClusterLocal({
    ...config,
    report: (line) => {
      if (!stopping) say(line);
    },
    onStoppable: (stop) => {
      stopCluster = stop;
    },
  });
  if (!stopping) {
    const { urls, keys, secrets } = cluster.state;
    const rows: [string, string][] = [
      ['edge (the one URL for clients)', urls.edge!],
      ['API (round-robin proxy)', `${urls.api}/graphql`],
      ...Object.entries(urls)
        .filter(([name]) => /^api-\d+$/.test(name))
        .map(([name, url]): [string, string] => [name, `${url}/graphql`]),
      ...Object.entries(urls)
        .filter(([name]) => name.startsWith('shard-'))
        .map(([name, url]): [string, string] => [name, url]),
      ...Object.entries(urls)
        .filter(([name]) => name.startsWith('worker-'))
        .map(([name, url]): [string, string] => [name, `${url}/readyz`]),
      ['GraphiQL', urls.graphiql ?? 'off in cluster mode (--graphiql turns it on)'],
      ['metrics', `curl -H 'authorization: Bearer ${secrets!.metricsToken}' ${urls.metrics}`],
      ['', '(the same token on each API and worker; shard servers take SHARD_AUTH_TOKEN)'],
      ['shard token', secrets!.shardAuthToken],
      ['S3 (s3rver)', urls.s3!],
      ['admin key', keys!.admin],
      ['upload key (role user)', keys!.user],
      ['logs', `${cluster.state.dir}/logs/`],
    ];
    const width = Math.max(...rows.map(([name]) => name.length));
    console.log(
      `\nPixelfind cluster is up:\n\n${rows.map(([n, v]) => `  ${n.padEnd(width)}  ${v}`).join('\n')}\n`,
    );
    say('Ctrl-C stops it');
  }
} catch (error) {
  if (stopping) await stopping;
  console.error(`[cluster:local] start failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
