/**
 * The search cluster as the API sees it: one router, its configuration, the source-of-record
 * interface the API implements over Postgres, and the error type. Nothing here speaks HTTP.
 */

export { ClusterError, type ClusterErrorCode, isClusterError } from './errors.ts';
export { useNativeAddon } from './faiss/load-native.ts';
export { bearerMatches, MIN_AUTH_TOKEN_LENGTH } from './protocol/auth.ts';
export { exactTopK } from './rebuild/exact-search.ts';
export {
  PostgresVectorSource,
  type SqlClient,
} from './rebuild/postgres-vector-source.ts';
export {
  MemoryVectorSource,
  type VectorChange,
  type VectorRecord,
  type VectorSource,
  type VectorSourceSnapshot,
} from './rebuild/vector-source.ts';
export { createRouter, parseShardsSetting, type RouterConfig } from './router/config.ts';
export type * from './router/router.types.ts';
export { syncPath, writeFileAtomic } from './runtime/atomic-write.ts';
export {
  commonVariables,
  DEFAULT_SHARD_DEADLINE_MS,
  portVariable,
  shardAuthTokenVariable,
} from './runtime/common-env.ts';
export {
  ConfigError,
  defineEnv,
  type EnvIssue,
  type EnvSource,
  type EnvSpec,
  type EnvValues,
  type EnvVariable,
  env,
  envTable,
  formatEnvIssues,
  isConfigError,
  loadOrExit,
  parseEnv,
  schemaOf,
} from './runtime/env.ts';
export { createJobMetrics, type JobMetricOutcome, type JobMetrics } from './runtime/job-metrics.ts';
export { drainHttpServer, onShutdownSignals } from './runtime/lifecycle.ts';
export {
  componentLogger,
  createLogger,
  LOG_LEVELS,
  type Logger,
  type LogLevel,
  type LogSink,
  type RootLogger,
  silentLogger,
  wrapLogger,
} from './runtime/logger.ts';
export { mapConcurrent } from './runtime/map-concurrent.ts';
export {
  counterFrom,
  createProcessMetrics,
  gaugeFrom,
  metricDefinitions,
  OTHER_ROUTE,
  type ProcessMetrics,
  type RouteTable,
  routeNamer,
  statusClass,
} from './runtime/metrics.ts';
export { fromPackageRoot, PACKAGE_ROOT } from './runtime/package-root.ts';
export {
  loadShardServerConfig,
  type ShardServerConfig,
  shardServerVariables,
} from './server/config.ts';
export type { TierOptions } from './shard/options.ts';
export { type Partition, shardOf } from './shard/partition.ts';
export { type RebuildThresholds, rebuildReason } from './shard/rebuild-rule.ts';
export type { ModelVersionSpec } from './shard/shard.ts';
export { registerShardMetrics, type ShardMetrics } from './shard/shard-metrics.ts';
export type { Hit } from './shard/topk.ts';
export { MAX_K } from './shard/validate.ts';
export { dot, dotAt, normalize, normalizeRows } from './vector-math.ts';
