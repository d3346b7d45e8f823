import { MIN_AUTH_TOKEN_LENGTH } from '../protocol/auth.ts';
import { defineEnv, env } from './env.ts';
import { LOG_LEVELS } from './logger.ts';

/** Per-shard search deadline: a shard later than this makes the answer partial (budget: 200 ms end to end). */
export const DEFAULT_SHARD_DEADLINE_MS = 150;

/** Variables every process kind reads, defined once. */
export const commonVariables = defineEnv({
  LOG_LEVEL: env.oneOf(LOG_LEVELS, {
    default: 'info',
    doc: 'log level (JSON lines; pino-pretty when stdout is a terminal)',
  }),
  DATABASE_URL: env.url({
    protocols: ['postgres', 'postgresql'],
    defaultText: 'unset: embedded PGlite in `DATA_DIR/pglite` (shard server: no rebuilds or refills)',
    doc: 'Postgres connection string; the `embeddings` table is the source of record for shards',
  }),
  SHUTDOWN_GRACE_MS: env.int({
    default: 10_000,
    min: 0,
    max: 600_000,
    doc: 'on SIGTERM/SIGINT, how long in-flight work may finish before the process exits anyway',
  }),
  PIXELFIND_FAISS_ADDON: env.string({
    defaultText: '`search-cluster/native/build/Release/pixelfind_faiss.node`',
    doc: 'path of the FAISS addon (`npm run build:native`)',
  }),
});

/** A TCP port; 0 picks a free one. */
export const portVariable = (fallback: number) =>
  env.int({ default: fallback, min: 0, max: 65_535, doc: 'TCP port to listen on (0: any free port)' });

/**
 * SHARD_AUTH_TOKEN, read by the shard server (every call but `/healthz` and `/readyz` must carry it) and by the
 * API and worker (they send it to remote shards): one definition for both sides.
 */
export const shardAuthTokenVariable = env.custom(
  (raw) => (raw.length >= MIN_AUTH_TOKEN_LENGTH ? raw : undefined),
  null as string | null,
  {
    expected: `a shared secret of at least ${MIN_AUTH_TOKEN_LENGTH} characters`,
    defaultText: 'unset: no token (shards on loopback only)',
    doc: "the shard servers' shared secret, `authorization: Bearer <token>` on every call but `/healthz` and `/readyz` (`/metrics` included); required by a shard server whose `HOST` is not a loopback address",
    secret: true,
  },
);
