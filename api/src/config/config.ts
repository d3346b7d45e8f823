import path from 'node:path';
import {
  ConfigError,
  type EnvIssue,
  type EnvSource,
  type EnvValues,
  type LogLevel,
  parseEnv,
} from '../../../search-cluster/src/index.ts';
import type { ExecutionProvider } from '../encoder/onnx-session.ts';
import { baseVariables, coreVariables, downloadVariables, httpVariables } from './variables.ts';

export type RunMode = 'single' | 'cluster';

/** The variables of each process kind (one zod object each, see variables.ts). */
export const processVariables = {
  api: { ...baseVariables, ...coreVariables, ...httpVariables },
  worker: { ...baseVariables, ...coreVariables },
  cli: { ...baseVariables },
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

function coreFrom(v: EnvValues<typeof processVariables.worker>, source: EnvSource): CoreConfig {
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
    },
    search: { safetyThreshold: v.SAFETY_THRESHOLD },
    indexer: {
      batchSize: v.INDEXER_BATCH_SIZE,
      leaseSeconds: v.INDEXER_LEASE_SECONDS,
      maxAttempts: v.INDEXER_MAX_ATTEMPTS,
    },
  };
}

/** The API process's configuration; throws a ConfigError naming every bad variable. */
export function loadConfig(source: EnvSource): Config {
  const v = parseEnv(processVariables.api, source);
  const core = coreFrom(v, source);
  const host = v.HOST ?? (core.mode === 'single' ? '127.0.0.1' : '0.0.0.0');
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
  };
}

/** The indexing worker process (`npm run worker`): the core settings only. */
export function loadWorkerConfig(source: EnvSource): CoreConfig {
  return coreFrom(parseEnv(processVariables.worker, source), source);
}

/** CLI commands that open the database (`npm run migrate`, `npm run keys`). */
export function loadCliConfig(source: EnvSource): BaseConfig {
  return baseFrom(parseEnv(processVariables.cli, source));
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
