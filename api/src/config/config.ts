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
  };
}
