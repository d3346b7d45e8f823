import path from 'node:path';
import {
  ConfigError,
  type EnvIssue,
  type EnvSource,
  type EnvValues,
  isConfigError,
  type LogLevel,
  parseEnv,
} from '../../../search-cluster/src/index.ts';
import type { ExecutionProvider } from '../encoder/onnx-session.ts';
import {
  baseVariables,
  cliVariables,
  coreVariables,
  downloadVariables,
  httpVariables,
  limitVariables,
  surfaceVariables,
  workerVariables,
} from './variables.ts';

export type RunMode = 'single' | 'cluster';

/** The variables of each process kind (one zod object each, see variables.ts). */
export const processVariables = {
  api: { ...baseVariables, ...coreVariables, ...httpVariables, ...limitVariables, ...surfaceVariables },
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
export interface BaseConfig {
  /** Where embedded state lives (PGlite, blobs, shard snapshots). Default ./data. */
  dataDir: string;
  /** Postgres connection string; unset means embedded PGlite under dataDir. */
  databaseUrl: string | null;
  logLevel: LogLevel;
  /** Bound on a graceful stop. Default 10000 ms. */
  shutdownGraceMs: number;
  /** FAISS addon path; null: the one `npm run build:native` builds. */
  faissAddon: string | null;
}

/** What the API and the worker share (the core service graph). */
export interface CoreConfig extends BaseConfig {
  mode: RunMode;
  /** Redis connection string; unset means an in-process cache. */
  redisUrl: string | null;
  /** Prefix of every cache key in Redis (REDIS_KEY_PREFIX). Default `pf:`. */
  redisPrefix: string;
  /** Why cluster mode runs without DATABASE_URL, REDIS_URL or SHARDS (PIXELFIND_CLUSTER_INCOMPLETE_OK). */
  clusterIncompleteReason: string | null;
  blobs:
    | { kind: 'local'; dir: string }
    | {
        kind: 's3';
        bucket: string;
        region: string;
        endpoint?: string;
        accessKeyId?: string;
        secretAccessKey?: string;
        publicBaseUrl?: string;
      };
  encoder: {
    /** null: the real model when present, else the tiny one. */
    model: string | null;
    modelsDir: string;
    executionProvider: ExecutionProvider;
    intraOpThreads: number | null;
    allowSpinning: boolean;
  };
  shards: {
    /** SHARDS as given: a count or `url|url,url|url`; null: inProcessCount in-process shards. */
    remote: string | null;
    /** In-process shard count when SHARDS is unset. Default 2. */
    inProcessCount: number;
    /** Per-shard deadline. Default 150 ms (the product budget is 200 ms end to end). */
    deadlineMs: number;
    /** SHARD_AUTH_TOKEN: the shard servers' shared secret, sent on every call to remote shards. Default: none. */
    authToken: string | null;
  };
  search: {
    /** Stored safety scores under this never show, and uploads under it are REJECTED. Default 0.5. */
    safetyThreshold: number;
  };
  indexer: {
    /** Images claimed and encoded together. Default 16. */
    batchSize: number;
    /** Job lease; a killed worker's jobs return to the queue after it. Default 30 s. */
    leaseSeconds: number;
    /** Attempts before an image is FAILED. Default 5. */
    maxAttempts: number;
  };
  /** Model versions: re-index, gate, rollback (docs/model-lifecycle.md). */
  lifecycle: {
    /** PIXELFIND_MODEL not active: re-index to it and promote it when the gate passes. Default: single mode. */
    autoReindex: boolean;
    /** How often index_versions is re-read. Default 1000 ms. */
    pollMs: number;
    /** Gate: golden recall@10 >= this x the active's. Default 0.99. */
    goldenRatio: number;
    /** Gate: ANN recall@10 >= this, text and image apart. Default 0.95. */
    minAnnRecall: number;
    /** PREVIOUS stays warm this long. Default 1 day. */
    rollbackWindowSeconds: number;
    /** Delete a retired version's embeddings. Default false. */
    dropRetiredEmbeddings: boolean;
    /** Images per re-index batch. Default 16. */
    reindexBatchSize: number;
    /** Longest pause for queued uploads before a re-index batch. Default 2000 ms. */
    reindexMaxYieldMs: number;
  };
}

/** The indexing worker process: the core settings and its health and metrics listener. */
export interface WorkerConfig extends CoreConfig {
  /** Port of `/healthz`, `/readyz`, `/metrics` (WORKER_PORT). Default 4100. */
  port: number;
  /** Address to listen on (HOST). Default 127.0.0.1 in single-node mode, 0.0.0.0 in cluster mode. */
  host: string;
  /** Bearer token `/metrics` requires (METRICS_TOKEN). Unset: open in single mode, 404 in cluster mode. */
  metricsToken: string | null;
}

/** Everything the API process reads from its environment, parsed once at start. */
export interface Config extends CoreConfig {
  /** TCP port of the HTTP server. Default 4000. */
  port: number;
  /** Address to listen on. Default 127.0.0.1 in single-node mode, 0.0.0.0 in cluster mode. */
  host: string;
  /** Anonymous callers may upload. Default: true only in single-node mode on a loopback address. */
  allowAnonymousUploads: boolean;
  upload: { maxBytes: number; maxPixels: number };
  /** Base URL the API is reachable at, used to build blob URLs served through the API. */
  publicUrl: string;
  search: CoreConfig['search'] & {
    /** Candidates asked of the shards per query (100-500). Default 100 (bench/results/search.md). */
    topK: number;
    /** JSON file with a versioned ranker config; unset: the built-in default. */
    rankerConfigPath: string | null;
    embeddingTtlSeconds: number;
    /** Hosts `imageUrl` may name even when they resolve to private addresses. */
    fetchAllowHosts: string[];
  };
  /** Run the indexing worker inside the API process. Default: true in single-node mode. */
  inProcessWorker: boolean;
  /** HMAC key shared with the edge Worker; unset: edge embedding headers are ignored. */
  edgeSigningKey: string | null;
  /** How often image_stats folds in new impressions, clicks and saves. Default 5000 ms. */
  statsEveryMs: number;
  /** On a stop signal, /readyz answers 503 this long before the listener closes. Default 0. */
  shutdownUnreadyMs: number;
  /** What one GraphQL request may ask for; checked before validation (docs/security.md). */
  requestLimits: {
    /** Lexer tokens per document (GRAPHQL_MAX_TOKENS). Default 2000. */
    maxTokens: number;
    /** Selection depth (GRAPHQL_MAX_DEPTH). Default 12. */
    maxDepth: number;
    /** Aliased fields per operation (GRAPHQL_MAX_ALIASES). Default 30. */
    maxAliases: number;
    /** Directives per document (GRAPHQL_MAX_DIRECTIVES). Default 20. */
    maxDirectives: number;
    /** graphql-armor cost per operation (GRAPHQL_MAX_COST). Default 5000. */
    maxCost: number;
    /** Field selections per document, fragments expanded (GRAPHQL_MAX_FIELDS). Default 400. */
    maxFields: number;
    /** `search` fields per document (GRAPHQL_MAX_SEARCHES). Default 3. */
    maxSearches: number;
    /** Bodies of non-multipart requests, in bytes (MAX_JSON_BODY_BYTES). Default 64 KiB. */
    maxJsonBodyBytes: number;
  };
  /** Node HTTP server timeouts (docs/security.md). */
  http: {
    /** Whole request (headers and body) must arrive within (HTTP_REQUEST_TIMEOUT_MS). Default 120 s. */
    requestTimeoutMs: number;
    /** Headers must arrive within (HTTP_HEADERS_TIMEOUT_MS). Default 10 s. */
    headersTimeoutMs: number;
    /** A body slower than this after the grace period is cut off (HTTP_MIN_BODY_BYTES_PER_SECOND). Default 4096. */
    minBodyBytesPerSecond: number;
    /** Time a body may take before the rate applies (HTTP_BODY_GRACE_MS). Default 5000. */
    bodyGraceMs: number;
  };
  /** Per-caller request budgets (rate-limiter-flexible; Redis when REDIS_URL is set). */
  rateLimits: {
    /** Window of every budget below (RATE_LIMIT_WINDOW_SECONDS). Default 60. */
    windowSeconds: number;
    /** Requests per client address per window, 0 = off (RATE_LIMIT_PER_ADDRESS). Default 1200. */
    perAddress: number;
    /** Requests per API key per window, 0 = off (RATE_LIMIT_PER_KEY). Default 6000. */
    perKey: number;
    /** Outbound `imageUrl` fetches per caller per window, 0 = off (IMAGE_FETCHES_PER_CALLER). Default 30. */
    fetchesPerCaller: number;
    /** Loopback clients skip the address budget (RATE_LIMIT_EXEMPT_LOOPBACK). Default: true in single mode. */
    exemptLoopback: boolean;
    /** Take the client address from X-Forwarded-For (RATE_LIMIT_TRUST_FORWARDED_FOR). Default false. */
    trustForwardedFor: boolean;
    /** Redis key prefix of the budgets (RATE_LIMIT_PREFIX). Default `pf:rl:`. */
    prefix: string;
  };
  /** Browser origins allowed to call with credentials (CORS_ORIGINS, comma separated). Default: publicUrl's origin, plus loopback origins in single mode. */
  corsOrigins: string[];
  /** In single mode loopback origins (any port) are allowed too. */
  corsAllowLoopback: boolean;
  /** What the API shows about itself. Defaults: on in single mode, off in cluster mode. */
  surface: {
    /** Schema introspection (GRAPHQL_INTROSPECTION). */
    introspection: boolean;
    /** GraphiQL at GET /graphql (GRAPHIQL). */
    graphiql: boolean;
    /** "Did you mean" suggestions in validation errors (GRAPHQL_FIELD_SUGGESTIONS). */
    fieldSuggestions: boolean;
    /** Bearer token `/metrics` requires (METRICS_TOKEN). Unset: open in single mode, 404 in cluster mode. */
    metricsToken: string | null;
  };
}

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
      fetchAllowHosts: v.IMAGE_FETCH_ALLOW_HOSTS,
    },
    inProcessWorker: v.INDEXER_IN_PROCESS ?? core.mode === 'single',
    edgeSigningKey: v.EDGE_SIGNING_KEY,
    statsEveryMs: v.STATS_EVERY_MS,
    shutdownUnreadyMs: v.SHUTDOWN_UNREADY_MS,
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
