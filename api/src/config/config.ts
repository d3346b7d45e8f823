import path from 'node:path';
import {
  ConfigError,
  type EnvIssue,
  type EnvSource,
  type EnvValues,
  isConfigError,
  parseEnv,
} from '../../../search-cluster/src/index.ts';
import type { BaseConfig, Config, CoreConfig, RunMode, WorkerConfig } from './config.types.ts';
import {
  baseVariables,
  cliVariables,
  coreVariables,
  downloadVariables,
  httpVariables,
  jobVariables,
  limitVariables,
  surfaceVariables,
  workerVariables,
} from './variables.ts';

export type { BaseConfig, Config, CoreConfig, RunMode, WorkerConfig } from './config.types.ts';

/** The variables of each process kind (one zod object each, see variables.ts). */
export const processVariables = {
  api: {
    ...baseVariables,
    ...coreVariables,
    ...httpVariables,
    ...limitVariables,
    ...surfaceVariables,
    ...jobVariables,
  },
  worker: {
    ...baseVariables,
    ...coreVariables,
    ...workerVariables,
    HOST: httpVariables.HOST,
    METRICS_TOKEN: surfaceVariables.METRICS_TOKEN,
  },
  /** Commands that open the database themselves (`npm run migrate`, `keys` without a server). */
  database: { ...baseVariables },
  /** The `pixelfind` CLI talking to a running server. */
  cli: { ...cliVariables },
  download: { ...baseVariables, MODELS_DIR: coreVariables.MODELS_DIR, ...downloadVariables },
};

/** What every process kind knows: where data lives, how to log, how long to drain. */

const isLoopback = (host: string) => host === '127.0.0.1' || host === '::1' || host === 'localhost';

function baseFrom(v: EnvValues<typeof baseVariables>): BaseConfig {
  return {
    dataDir: path.resolve(v.DATA_DIR),
    databaseUrl: v.DATABASE_URL,
    logLevel: v.LOG_LEVEL,
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
    faissAddon: v.PIXELFIND_FAISS_ADDON,
  };
}

/** HOST, or the mode's default: loopback for a single node, every interface in a cluster. */
const hostFor = (host: string | null, mode: RunMode) => host ?? (mode === 'single' ? '127.0.0.1' : '0.0.0.0');

function coreFrom(v: EnvValues<typeof baseVariables & typeof coreVariables>, source: EnvSource): CoreConfig {
  const base = baseFrom(v);
  const mode = v.PIXELFIND_MODE;
  if (mode === 'cluster' && v.PIXELFIND_CLUSTER_INCOMPLETE_OK === null) {
    // each process of a cluster must share one database, one cache and one set of shards
    const missing: EnvIssue[] = (['DATABASE_URL', 'REDIS_URL', 'SHARDS'] as const)
      .filter((name) => v[name] === null)
      .map((name) => ({
        name,
        value: source[name],
        expected: `a value: PIXELFIND_MODE=cluster needs DATABASE_URL, REDIS_URL and SHARDS (or PIXELFIND_CLUSTER_INCOMPLETE_OK="<why>")`,
      }));
    if (missing.length > 0) throw new ConfigError(missing);
  }
  return {
    ...base,
    mode,
    redisUrl: v.REDIS_URL,
    redisPrefix: v.REDIS_KEY_PREFIX,
    clusterIncompleteReason: mode === 'cluster' ? v.PIXELFIND_CLUSTER_INCOMPLETE_OK : null,
    blobs: v.S3_BUCKET
      ? {
          kind: 's3',
          bucket: v.S3_BUCKET,
          region: v.S3_REGION,
          ...(v.S3_ENDPOINT ? { endpoint: v.S3_ENDPOINT } : {}),
          ...(v.S3_ACCESS_KEY_ID ? { accessKeyId: v.S3_ACCESS_KEY_ID } : {}),
          ...(v.S3_SECRET_ACCESS_KEY ? { secretAccessKey: v.S3_SECRET_ACCESS_KEY } : {}),
          ...(v.S3_PUBLIC_BASE_URL ? { publicBaseUrl: v.S3_PUBLIC_BASE_URL } : {}),
        }
      : { kind: 'local', dir: path.join(base.dataDir, 'blobs') },
    encoder: {
      model: v.PIXELFIND_MODEL,
      modelsDir: path.resolve(v.MODELS_DIR ?? path.join(base.dataDir, 'models')),
      executionProvider: v.PIXELFIND_EXECUTION_PROVIDER,
      intraOpThreads: v.PIXELFIND_ONNX_THREADS,
      allowSpinning: v.PIXELFIND_ONNX_SPIN ?? false,
    },
    shards: {
      remote: v.SHARDS === null ? null : (source.SHARDS ?? null),
      inProcessCount: v.SHARD_COUNT,
      deadlineMs: v.SHARD_DEADLINE_MS,
      authToken: v.SHARD_AUTH_TOKEN,
    },
    search: { safetyThreshold: v.SAFETY_THRESHOLD },
    indexer: {
      batchSize: v.INDEXER_BATCH_SIZE,
      leaseSeconds: v.INDEXER_LEASE_SECONDS,
      maxAttempts: v.INDEXER_MAX_ATTEMPTS,
    },
    lifecycle: {
      autoReindex: v.LIFECYCLE_AUTO_REINDEX ?? mode === 'single',
      pollMs: v.LIFECYCLE_POLL_MS,
      goldenRatio: v.LIFECYCLE_GOLDEN_RATIO,
      minAnnRecall: v.LIFECYCLE_MIN_ANN_RECALL,
      rollbackWindowSeconds: v.LIFECYCLE_ROLLBACK_WINDOW_SECONDS,
      dropRetiredEmbeddings: v.LIFECYCLE_DROP_RETIRED_EMBEDDINGS ?? false,
      reindexBatchSize: v.REINDEX_BATCH_SIZE,
      reindexMaxYieldMs: v.REINDEX_MAX_YIELD_MS,
    },
  };
}

/** The API process's configuration; throws a ConfigError naming every bad variable. */
export function loadConfig(source: EnvSource): Config {
  const v = parseEnv(processVariables.api, source);
  const core = coreFrom(v, source);
  const host = hostFor(v.HOST, core.mode);
  return {
    ...core,
    port: v.PORT,
    host,
    allowAnonymousUploads: v.ALLOW_ANONYMOUS_UPLOADS ?? (core.mode === 'single' && isLoopback(host)),
    upload: { maxBytes: v.UPLOAD_MAX_BYTES, maxPixels: v.UPLOAD_MAX_PIXELS },
    publicUrl:
      v.PUBLIC_URL ?? `http://${isLoopback(host) || host === '0.0.0.0' ? '127.0.0.1' : host}:${v.PORT}`,
    search: {
      ...core.search,
      topK: v.SEARCH_TOP_K,
      rankerConfigPath: v.RANKER_CONFIG,
      embeddingTtlSeconds: v.EMBEDDING_CACHE_TTL_SECONDS,
      factsCache: { ttlSeconds: v.SEARCH_FACTS_CACHE_SECONDS, maxEntries: v.SEARCH_FACTS_CACHE_ENTRIES },
      fetchAllowHosts: v.IMAGE_FETCH_ALLOW_HOSTS,
    },
    inProcessWorker: v.INDEXER_IN_PROCESS ?? core.mode === 'single',
    edgeSigningKey: v.EDGE_SIGNING_KEY,
    statsEveryMs: v.STATS_EVERY_MS,
    shutdownUnreadyMs: v.SHUTDOWN_UNREADY_MS,
    jobs: {
      rebuildCron: v.REBUILD_SCHEDULE,
      rebuildCheckCron: v.REBUILD_CHECK_SCHEDULE,
      rebuildThresholds: { hotVectors: v.REBUILD_HOT_VECTORS, tombstoneRatio: v.REBUILD_TOMBSTONE_RATIO },
      canaryCron: v.RECALL_CANARY_SCHEDULE,
      canaryQueries: v.RECALL_CANARY_QUERIES,
      driftCron: v.DRIFT_SCHEDULE,
      driftWindowHours: v.DRIFT_WINDOW_HOURS,
    },
    requestLimits: {
      maxTokens: v.GRAPHQL_MAX_TOKENS,
      maxDepth: v.GRAPHQL_MAX_DEPTH,
      maxAliases: v.GRAPHQL_MAX_ALIASES,
      maxDirectives: v.GRAPHQL_MAX_DIRECTIVES,
      maxCost: v.GRAPHQL_MAX_COST,
      maxFields: v.GRAPHQL_MAX_FIELDS,
      maxSearches: v.GRAPHQL_MAX_SEARCHES,
      maxJsonBodyBytes: v.MAX_JSON_BODY_BYTES,
    },
    http: {
      requestTimeoutMs: v.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: v.HTTP_HEADERS_TIMEOUT_MS,
      minBodyBytesPerSecond: v.HTTP_MIN_BODY_BYTES_PER_SECOND,
      bodyGraceMs: v.HTTP_BODY_GRACE_MS,
    },
    rateLimits: {
      windowSeconds: v.RATE_LIMIT_WINDOW_SECONDS,
      perAddress: v.RATE_LIMIT_PER_ADDRESS,
      perKey: v.RATE_LIMIT_PER_KEY,
      fetchesPerCaller: v.IMAGE_FETCHES_PER_CALLER,
      exemptLoopback: v.RATE_LIMIT_EXEMPT_LOOPBACK ?? core.mode === 'single',
      trustForwardedFor: v.RATE_LIMIT_TRUST_FORWARDED_FOR ?? false,
      prefix: v.RATE_LIMIT_PREFIX,
    },
    corsOrigins: v.CORS_ORIGINS,
    corsAllowLoopback: core.mode === 'single',
    surface: {
      introspection: v.GRAPHQL_INTROSPECTION ?? core.mode === 'single',
      graphiql: v.GRAPHIQL ?? core.mode === 'single',
      fieldSuggestions: v.GRAPHQL_FIELD_SUGGESTIONS ?? core.mode === 'single',
      metricsToken: v.METRICS_TOKEN,
    },
  };
}

/** The indexing worker process (`npm run worker`): the core settings and its listener. */
export function loadWorkerConfig(source: EnvSource): WorkerConfig {
  const v = parseEnv(processVariables.worker, source);
  const core = coreFrom(v, source);
  return { ...core, port: v.WORKER_PORT, host: hostFor(v.HOST, core.mode), metricsToken: v.METRICS_TOKEN };
}

/** Commands that open the database themselves (`npm run migrate`, `pixelfind keys` without a server). */
export function loadDatabaseConfig(source: EnvSource): BaseConfig {
  return baseFrom(parseEnv(processVariables.database, source));
}

/** What the `pixelfind` CLI needs to reach the running server. */
export interface CliConfig {
  /** The server's base URL (PIXELFIND_URL or --url), without a trailing slash. */
  url: string;
  /** PIXELFIND_API_KEY or --key; null: anonymous. */
  apiKey: string | null;
}

const CLI_FLAGS: Record<string, string> = { PIXELFIND_URL: '--url', PIXELFIND_API_KEY: '--key' };

/**
 * The `pixelfind` CLI's settings; flags win over the environment (--url over PIXELFIND_URL, --key
 * over PIXELFIND_API_KEY). Throws a ConfigError naming the variable and its flag.
 */
export function loadCliConfig(source: EnvSource, flags: { url?: string; key?: string } = {}): CliConfig {
  const input: EnvSource = {
    PIXELFIND_URL: flags.url ?? source.PIXELFIND_URL,
    PIXELFIND_API_KEY: flags.key ?? source.PIXELFIND_API_KEY,
  };
  try {
    const v = parseEnv(processVariables.cli, input);
    return {
      url: (v.PIXELFIND_URL ?? 'http://127.0.0.1:4000').replace(/\/+$/, ''),
      apiKey: v.PIXELFIND_API_KEY,
    };
  } catch (error) {
    if (!isConfigError(error)) throw error;
    throw new ConfigError(
      error.issues.map((issue) => ({ ...issue, name: `${issue.name} (or ${CLI_FLAGS[issue.name]})` })),
    );
  }
}

/** `npm run model:download`. */
export function loadDownloadConfig(source: EnvSource) {
  const v = parseEnv(processVariables.download, source);
  return {
    modelsDir: path.resolve(v.MODELS_DIR ?? path.join(path.resolve(v.DATA_DIR), 'models')),
    endpoint: v.HF_ENDPOINT,
    token: v.HF_TOKEN,
  };
}
