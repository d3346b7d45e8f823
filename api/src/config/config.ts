import path from 'node:path';

export type RunMode = 'single' | 'cluster';

/** Everything the service reads from its environment, parsed once at start. */
export interface Config {
  mode: RunMode;
  /** TCP port of the HTTP server. Default 4000. */
  port: number;
  /** Address to listen on. Default 127.0.0.1 in single-node mode, 0.0.0.0 in cluster mode. */
  host: string;
  /** Where embedded state lives (PGlite, blobs, shard snapshots). Default ./data. */
  dataDir: string;
  /** Postgres connection string; unset means embedded PGlite under dataDir. */
  databaseUrl: string | null;
  /** Redis connection string; unset means an in-process cache. */
  redisUrl: string | null;
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
  /** Anonymous callers may upload. Default: true only in single-node mode on a loopback address. */
  allowAnonymousUploads: boolean;
  upload: { maxBytes: number; maxPixels: number };
  /** Base URL the API is reachable at, used to build blob URLs served through the API. */
  publicUrl: string;
  search: {
    /** Candidates asked of the shards per query (100-500). Default 100 (bench/results/search.md). */
    topK: number;
    /** Stored safety scores under this never show, and uploads under it are REJECTED. Default 0.5. */
    safetyThreshold: number;
    /** JSON file with a versioned ranker config; unset: the built-in default. */
    rankerConfigPath: string | null;
    embeddingTtlSeconds: number;
    /** Hosts `imageUrl` may name even when they resolve to private addresses. */
    fetchAllowHosts: string[];
  };
  shards: {
    /** Remote shard replicas: `url|url,url|url` (comma between shards, | between replicas); unset: in-process. */
    remote: string | null;
    /** In-process shard count in single-node mode. Default 2. */
    inProcessCount: number;
    /** Per-shard deadline. Default 150 ms (the product budget is 200 ms end to end). */
    deadlineMs: number;
    /** SHARD_AUTH_TOKEN: the shard servers' shared secret, sent on every call to remote shards. Default: none. */
    authToken: string | null;
  };
  /** Run the indexing worker inside the API process. Default: true in single-node mode. */
  inProcessWorker: boolean;
  indexer: {
    /** Images claimed and encoded together. Default 16. */
    batchSize: number;
    /** Job lease; a killed worker's jobs return to the queue after it. Default 30 s. */
    leaseSeconds: number;
    /** Attempts before an image is FAILED. Default 5. */
    maxAttempts: number;
  };
  /** HMAC key shared with the edge Worker; unset: edge embedding headers are ignored. */
  edgeSigningKey: string | null;
  /** How often image_stats folds in new impressions, clicks and saves. Default 5000 ms. */
  statsEveryMs: number;
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

type Env = Record<string, string | undefined>;

function intFrom(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`Expected a non-negative integer for ${name} but received ${JSON.stringify(raw)}`);
  }
  return value;
}

function floatFrom(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new Error(`Expected a number in [0, 1] for ${name} but received ${JSON.stringify(raw)}`);
  }
  return value;
}

function clamp(value: number, min: number, max: number, name: string): number {
  if (value < min || value > max)
    throw new Error(`Expected ${name} between ${min} and ${max} but received ${value}`);
  return value;
}

function boolFrom(env: Env, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (['1', 'true', 'yes'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no'].includes(raw.toLowerCase())) return false;
  throw new Error(`Expected true or false for ${name} but received ${JSON.stringify(raw)}`);
}

const isLoopback = (host: string) => host === '127.0.0.1' || host === '::1' || host === 'localhost';

export function loadConfig(env: Env = process.env): Config {
  const modeRaw = env.PIXELFIND_MODE ?? 'single';
  if (modeRaw !== 'single' && modeRaw !== 'cluster') {
    throw new Error(
      `Expected PIXELFIND_MODE to be single or cluster but received ${JSON.stringify(modeRaw)}`,
    );
  }
  const mode: RunMode = modeRaw;
  const port = intFrom(env, 'PORT', 4000);
  const host = env.HOST ?? (mode === 'single' ? '127.0.0.1' : '0.0.0.0');
  const dataDir = path.resolve(env.DATA_DIR ?? './data');
  const blobs: Config['blobs'] = env.S3_BUCKET
    ? {
        kind: 's3',
        bucket: env.S3_BUCKET,
        region: env.S3_REGION ?? 'us-east-1',
        endpoint: env.S3_ENDPOINT,
        accessKeyId: env.S3_ACCESS_KEY_ID,
        secretAccessKey: env.S3_SECRET_ACCESS_KEY,
        publicBaseUrl: env.S3_PUBLIC_BASE_URL,
      }
    : { kind: 'local', dir: path.join(dataDir, 'blobs') };
  const anonymousDefault = mode === 'single' && isLoopback(host);
  return {
    mode,
    port,
    host,
    dataDir,
    databaseUrl: env.DATABASE_URL || null,
    redisUrl: env.REDIS_URL || null,
    blobs,
    allowAnonymousUploads: boolFrom(env, 'ALLOW_ANONYMOUS_UPLOADS') ?? anonymousDefault,
    upload: {
      maxBytes: intFrom(env, 'UPLOAD_MAX_BYTES', 25 * 1024 * 1024),
      maxPixels: intFrom(env, 'UPLOAD_MAX_PIXELS', 50_000_000),
    },
    publicUrl:
      env.PUBLIC_URL ?? `http://${isLoopback(host) || host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    search: {
      topK: clamp(intFrom(env, 'SEARCH_TOP_K', 100), 100, 500, 'SEARCH_TOP_K'),
      safetyThreshold: floatFrom(env, 'SAFETY_THRESHOLD', 0.5),
      rankerConfigPath: env.RANKER_CONFIG || null,
      embeddingTtlSeconds: intFrom(env, 'EMBEDDING_CACHE_TTL_SECONDS', 86_400),
      fetchAllowHosts: (env.IMAGE_FETCH_ALLOW_HOSTS ?? '').split(/[\s,]+/).filter(Boolean),
    },
    shards: {
      remote: env.SHARDS || null,
      inProcessCount: Math.max(1, intFrom(env, 'SHARD_COUNT', 2)),
      deadlineMs: intFrom(env, 'SHARD_DEADLINE_MS', 150),
      authToken: env.SHARD_AUTH_TOKEN || null,
    },
    inProcessWorker: boolFrom(env, 'INDEXER_IN_PROCESS') ?? mode === 'single',
    indexer: {
      batchSize: Math.max(1, intFrom(env, 'INDEXER_BATCH_SIZE', 16)),
      leaseSeconds: Math.max(1, intFrom(env, 'INDEXER_LEASE_SECONDS', 30)),
      maxAttempts: Math.max(1, intFrom(env, 'INDEXER_MAX_ATTEMPTS', 5)),
    },
    edgeSigningKey: env.EDGE_SIGNING_KEY || null,
    statsEveryMs: Math.max(100, intFrom(env, 'STATS_EVERY_MS', 5000)),
    requestLimits: {
      maxTokens: Math.max(100, intFrom(env, 'GRAPHQL_MAX_TOKENS', 2000)),
      maxDepth: Math.max(3, intFrom(env, 'GRAPHQL_MAX_DEPTH', 12)),
      maxAliases: intFrom(env, 'GRAPHQL_MAX_ALIASES', 30),
      maxDirectives: intFrom(env, 'GRAPHQL_MAX_DIRECTIVES', 20),
      maxCost: Math.max(100, intFrom(env, 'GRAPHQL_MAX_COST', 5000)),
      maxFields: Math.max(50, intFrom(env, 'GRAPHQL_MAX_FIELDS', 400)),
      maxSearches: Math.max(1, intFrom(env, 'GRAPHQL_MAX_SEARCHES', 3)),
      maxJsonBodyBytes: Math.max(1024, intFrom(env, 'MAX_JSON_BODY_BYTES', 64 * 1024)),
    },
    http: {
      requestTimeoutMs: Math.max(1000, intFrom(env, 'HTTP_REQUEST_TIMEOUT_MS', 120_000)),
      headersTimeoutMs: Math.max(500, intFrom(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000)),
      minBodyBytesPerSecond: intFrom(env, 'HTTP_MIN_BODY_BYTES_PER_SECOND', 4096),
      bodyGraceMs: intFrom(env, 'HTTP_BODY_GRACE_MS', 5000),
    },
    rateLimits: {
      windowSeconds: Math.max(1, intFrom(env, 'RATE_LIMIT_WINDOW_SECONDS', 60)),
      perAddress: intFrom(env, 'RATE_LIMIT_PER_ADDRESS', 1200),
      perKey: intFrom(env, 'RATE_LIMIT_PER_KEY', 6000),
      fetchesPerCaller: intFrom(env, 'IMAGE_FETCHES_PER_CALLER', 30),
      exemptLoopback: boolFrom(env, 'RATE_LIMIT_EXEMPT_LOOPBACK') ?? mode === 'single',
      trustForwardedFor: boolFrom(env, 'RATE_LIMIT_TRUST_FORWARDED_FOR') ?? false,
      prefix: env.RATE_LIMIT_PREFIX || 'pf:rl:',
    },
    corsOrigins: (env.CORS_ORIGINS ?? '').split(/[\s,]+/).filter(Boolean),
    corsAllowLoopback: mode === 'single',
    surface: {
      introspection: boolFrom(env, 'GRAPHQL_INTROSPECTION') ?? mode === 'single',
      graphiql: boolFrom(env, 'GRAPHIQL') ?? mode === 'single',
      fieldSuggestions: boolFrom(env, 'GRAPHQL_FIELD_SUGGESTIONS') ?? mode === 'single',
      metricsToken: env.METRICS_TOKEN || null,
    },
  };
}
