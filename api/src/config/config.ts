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
    throw new Error(`Expected PIXELFIND_MODE to be single or cluster but received ${JSON.stringify(modeRaw)}`);
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
    publicUrl: env.PUBLIC_URL ?? `http://${isLoopback(host) || host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
  };
}
