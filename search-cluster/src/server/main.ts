/**
 * One shard server replica as its own process: `npm run search-cluster`.
 *
 * Environment:
 *   SHARD_ID        0-based shard number (default 0)
 *   SHARD_COUNT     total shards; must match the router's SHARDS list (default 1)
 *   PORT            port to listen on (default 7001)
 *   HOST            interface (default 127.0.0.1; 0.0.0.0 in a container, which needs SHARD_AUTH_TOKEN)
 *   SHARD_AUTH_TOKEN  shared secret (>= 32 characters) every call but /healthz must carry as
 *                   `authorization: Bearer <token>`; the API sends it (same variable). Required
 *                   unless HOST is a loopback address: the server refuses to start without it
 *   DATA_DIR        snapshot directory (default ./data/shard-<SHARD_ID>-of-<SHARD_COUNT>)
 *   MODEL_VERSIONS  model versions to serve, "name:dimension,name:dimension" (more can be added over
 *                   POST /v1/model-versions; the data dir remembers them)
 *   MAIN_TIER       auto | flat | hnsw | ivfpq (default auto)
 *   DATABASE_URL    Postgres holding the `embeddings` table: the source of record for rebuilds,
 *                   restart refills and catch-up (without it all three are disabled)
 *   CATCH_UP_INTERVAL_MS  how often a running shard applies writes it missed from the source
 *                   (anti-entropy, search-cluster/src/shard/catch-up.ts; default 2000, 0 = off)
 */
import pg from 'pg';
import { ClusterError } from '../errors.ts';
import { PostgresVectorSource } from '../rebuild/postgres-vector-source.ts';
import type { VectorSource } from '../rebuild/vector-source.ts';
import { startCatchUp } from '../shard/catch-up.ts';
import { faissFactory } from '../shard/faiss-factory.ts';
import { jsonLogger, type TierOptions } from '../shard/options.ts';
import { type ModelVersionSpec, Shard } from '../shard/shard.ts';
import { type ShardServer, startShardServer } from './server.ts';

export function parseModelVersions(value: string | undefined): ModelVersionSpec[] {
  if (!value?.trim()) return [];
  return value.split(',').map((entry) => {
    const at = entry.lastIndexOf(':');
    const name = entry.slice(0, at).trim();
    const dimension = Number(entry.slice(at + 1));
    if (at <= 0 || !Number.isInteger(dimension) || dimension < 1) {
      throw new Error(`MODEL_VERSIONS entry "${entry}" is not name:dimension`);
    }
    return { name, dimension };
  });
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  source?: VectorSource;
  /** The source's newest watermark per model version; with it the shard runs catch-up. */
  latest?: (modelVersion: string) => Promise<bigint>;
}

/** Starts the server, then loads the shard (health answers 'loading' meanwhile). */
export async function runShardServer({ env = process.env, source, latest }: RunOptions = {}): Promise<{
  shard: Shard;
  server: ShardServer;
  ready: Promise<void>;
}> {
  const index = intFromEnv(env, 'SHARD_ID', 0);
  const count = intFromEnv(env, 'SHARD_COUNT', 1);
  const log = jsonLogger({ component: 'shard-server', shard: `${index}/${count}` });
  const mainTier = (env.MAIN_TIER ?? 'auto') as TierOptions['mainTier'];
  if (!['auto', 'flat', 'hnsw', 'ivfpq'].includes(mainTier))
    throw new Error(`MAIN_TIER "${mainTier}" is unknown`);
  const shard = new Shard({
    partition: { index, count },
    modelVersions: parseModelVersions(env.MODEL_VERSIONS),
    factory: faissFactory,
    dataDir: env.DATA_DIR || `data/shard-${index}-of-${count}`,
    tiers: { mainTier },
    log,
    ...(source ? { source } : {}),
  });
  if (!source) log.warn('no source of record configured: rebuilds and restart refills are disabled');
  const server = await startShardServer({
    shard,
    port: intFromEnv(env, 'PORT', 7001),
    host: env.HOST || '127.0.0.1',
    authToken: env.SHARD_AUTH_TOKEN || null,
    log,
  });
  log.info('listening', { url: server.url });
  const catchUpMs = intFromEnv(env, 'CATCH_UP_INTERVAL_MS', 2000);
  const catchUp =
    source && latest && catchUpMs > 0
      ? startCatchUp({ shard, source, latest, intervalMs: catchUpMs, log })
      : null;
  const ready = shard.start().then(async () => {
    await catchUp?.prime();
    catchUp?.start();
  });
  // stopping the server stops the catch-up first (it writes into the shard)
  const close = server.close.bind(server);
  server.close = async () => {
    await catchUp?.stop();
    await close();
  };
  return { shard, server, ready };
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('server/main.ts')) {
  try {
    // the embeddings table is the source of record: a restarted shard refills from it
    const pool = process.env.DATABASE_URL
      ? new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 })
      : null;
    pool?.on('error', () => {});
    const source = pool ? new PostgresVectorSource(pool) : null;
    const { shard, server, ready } = await runShardServer(
      source ? { source, latest: (modelVersion) => source.latestWatermark(modelVersion) } : {},
    );
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`${JSON.stringify({ level: 'info', msg: 'stopping', signal })}\n`);
      await server.close();
      await shard.close();
      await pool?.end();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    await ready;
  } catch (error) {
    const message =
      error instanceof ClusterError ? `${error.code}: ${error.message}` : (error as Error).message;
    process.stderr.write(`shard server failed to start: ${message}\n`);
    process.exit(1);
  }
}
