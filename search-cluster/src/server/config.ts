import { isLoopbackHost, MIN_AUTH_TOKEN_LENGTH } from '../protocol/auth.ts';
import { commonVariables, portVariable, shardAuthTokenVariable } from '../runtime/common-env.ts';
import { ConfigError, defineEnv, type EnvSource, env, parseEnv } from '../runtime/env.ts';
import type { LogLevel } from '../runtime/logger.ts';
import type { TierOptions } from '../shard/options.ts';
import type { ModelVersionSpec } from '../shard/shard.ts';

/** "name:dimension,name:dimension"; undefined when an entry is not that. */
export function readModelVersions(value: string): ModelVersionSpec[] | undefined {
  const specs: ModelVersionSpec[] = [];
  for (const entry of value.split(',')) {
    const at = entry.lastIndexOf(':');
    const name = entry.slice(0, at).trim();
    const dimension = Number(entry.slice(at + 1));
    if (at <= 0 || !Number.isInteger(dimension) || dimension < 1) return undefined;
    specs.push({ name, dimension });
  }
  return specs;
}

/** The variables of one shard server replica (`npm run search-cluster`). */
export const shardServerVariables = defineEnv({
  SHARD_ID: env.int({ default: 0, min: 0, max: 1023, doc: '0-based shard number of this replica' }),
  SHARD_COUNT: env.int({
    default: 1,
    min: 1,
    max: 1024,
    doc: "total shards; must match the router's `SHARDS` list",
  }),
  PORT: portVariable(7001),
  HOST: env.string({
    defaultText: '`127.0.0.1`',
    doc: 'interface to listen on (`0.0.0.0` in a container, which needs `SHARD_AUTH_TOKEN`)',
  }),
  SHARD_AUTH_TOKEN: shardAuthTokenVariable,
  DATA_DIR: env.string({
    defaultText: '`./data/shard-<SHARD_ID>-of-<SHARD_COUNT>`',
    doc: 'snapshot directory of this replica',
  }),
  MODEL_VERSIONS: env.custom(readModelVersions, [] as ModelVersionSpec[], {
    expected: 'name:dimension entries separated by commas (e.g. clip-vit-b32:512)',
    defaultText: 'none (added over `POST /v1/model-versions`; the data dir remembers them)',
    doc: 'model versions to serve',
  }),
  MAIN_TIER: env.oneOf(['auto', 'flat', 'hnsw', 'ivfpq'] as const, {
    default: 'auto',
    doc: 'main-tier index kind',
  }),
  SELF_REBUILD: env.bool({
    defaultText: '`true`',
    doc: "rebuild this replica's main tier itself when its hot tier or tombstones pass the thresholds; set `false` when the API's `REBUILD_CHECK_SCHEDULE` does it one replica at a time (cluster:local, compose and the Kubernetes manifests do)",
  }),
  CATCH_UP_INTERVAL_MS: env.int({
    default: 2000,
    min: 0,
    max: 3_600_000,
    doc: 'how often a running shard applies writes it missed from the source of record (0: off)',
  }),
  ...commonVariables,
});

export interface ShardServerConfig {
  shardId: number;
  shardCount: number;
  port: number;
  host: string;
  /** SHARD_AUTH_TOKEN: required beyond loopback; null: no auth (loopback only). */
  authToken: string | null;
  dataDir: string;
  modelVersions: ModelVersionSpec[];
  mainTier: TierOptions['mainTier'];
  /** Source of record for rebuilds and refills; null disables both. */
  databaseUrl: string | null;
  logLevel: LogLevel;
  shutdownGraceMs: number;
  faissAddon: string | null;
  /** Anti-entropy catch-up pace; 0 turns it off. */
  catchUpIntervalMs: number;
  /** Threshold rebuilds started by the replica itself (false: the API's schedule starts them). */
  selfRebuild: boolean;
}

/** Reads the shard server's environment; throws a ConfigError naming every bad variable. */
export function loadShardServerConfig(source: EnvSource): ShardServerConfig {
  const v = parseEnv(shardServerVariables, source);
  if (v.SHARD_ID >= v.SHARD_COUNT) {
    throw new ConfigError([
      {
        name: 'SHARD_ID',
        value: source.SHARD_ID,
        expected: `a shard number below SHARD_COUNT (${v.SHARD_COUNT})`,
      },
    ]);
  }
  const host = v.HOST ?? '127.0.0.1';
  if (v.SHARD_AUTH_TOKEN === null && !isLoopbackHost(host)) {
    // anyone reaching the port could otherwise rewrite the index
    throw new ConfigError([
      {
        name: 'SHARD_AUTH_TOKEN',
        value: undefined,
        expected: `a shared secret of at least ${MIN_AUTH_TOKEN_LENGTH} characters: HOST=${host} is not a loopback address`,
      },
    ]);
  }
  return {
    shardId: v.SHARD_ID,
    shardCount: v.SHARD_COUNT,
    port: v.PORT,
    host,
    authToken: v.SHARD_AUTH_TOKEN,
    dataDir: v.DATA_DIR ?? `data/shard-${v.SHARD_ID}-of-${v.SHARD_COUNT}`,
    modelVersions: v.MODEL_VERSIONS,
    mainTier: v.MAIN_TIER,
    databaseUrl: v.DATABASE_URL,
    logLevel: v.LOG_LEVEL,
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
    faissAddon: v.PIXELFIND_FAISS_ADDON,
    catchUpIntervalMs: v.CATCH_UP_INTERVAL_MS,
    selfRebuild: v.SELF_REBUILD ?? true,
  };
}

/** The tier options a replica's config asks for (SELF_REBUILD=false: no threshold rebuilds of its own). */
export function shardTierOptions(config: ShardServerConfig): Partial<TierOptions> {
  return {
    mainTier: config.mainTier,
    // the API's rebuild check starts them one replica at a time instead
    ...(config.selfRebuild ? {} : { autoRebuildHotVectors: 0, autoRebuildTombstoneRatio: 0 }),
  };
}
