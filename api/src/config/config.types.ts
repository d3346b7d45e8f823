import type { LogLevel } from '../../../search-cluster/src/index.ts';
import type { ExecutionProvider } from '../encoder/onnx-session.ts';

/** How the process runs: single node (embedded stores) or one process of a cluster. */
export type RunMode = 'single' | 'cluster';

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
    /** Search candidates' facts cache (search/facts-cache.ts); ttlSeconds 0: off. */
    factsCache: { ttlSeconds: number; maxEntries: number };
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
  /** Background job schedules (cron expressions, UTC; null: off). See docs/operations.md. */
  jobs: {
    /** Nightly main-tier rebuild of every replica. Default `0 3 * * *`. */
    rebuildCron: string | null;
    /** Threshold check (hot tier, tombstones). Default every 5 minutes. */
    rebuildCheckCron: string | null;
    rebuildThresholds: { hotVectors: number; tombstoneRatio: number };
    /** Recall canary. Default every 30 minutes. */
    canaryCron: string | null;
    /** Queries per kind the canary samples. Default 50. */
    canaryQueries: number;
    /** Drift measurement. Default every 15 minutes. */
    driftCron: string | null;
    /** The drift window. Default 24 h. */
    driftWindowHours: number;
  };
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
